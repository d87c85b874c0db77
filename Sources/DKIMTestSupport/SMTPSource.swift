import Foundation

/// Postfix's smtp-source: `count` copies of one message over `sessions` parallel SMTP sessions to
/// 127.0.0.1:`port`, a new session for every message (as mail arrives from the Internet). It sends
/// HELO, not EHLO, appends CRLF to every line of the LF file it is given and dot-stuffs it.
public struct SMTPSource: Sendable {
    public var messageFile: String
    public var count: Int
    public var sessions: Int
    public var sender: String
    public var recipient: String

    public init(messageFile: String, count: Int, sessions: Int, sender: String, recipient: String) {
        self.messageFile = messageFile
        self.count = count
        self.sessions = sessions
        self.sender = sender
        self.recipient = recipient
    }

    /// A CRLF message as the LF text file smtp-source wants (see the type's comment), written to `path`.
    public static func writeMessageFile(_ message: [UInt8], to path: String) throws {
        var lf: [UInt8] = []
        lf.reserveCapacity(message.count)
        for (i, b) in message.enumerated() where !(b == 0x0D && i + 1 < message.count && message[i + 1] == 0x0A) {
            lf.append(b)
        }
        try Data(lf).write(to: URL(fileURLWithPath: path))
    }

    /// Sends everything and returns when smtp-source has finished (every message accepted or
    /// refused: with -A it goes on after a refusal and says so on standard error).
    public func run(port: Int, timeout: TimeInterval = 600) throws -> ProcessRunner.Result {
        let arguments = ["-A", "-s", "\(sessions)", "-m", "\(count)", "-f", sender, "-t", recipient,
                         "-M", "source.test.example", "-F", messageFile, "127.0.0.1:\(port)"]
        let r = try ProcessRunner.run("/usr/sbin/smtp-source", arguments, timeout: timeout)
        guard r.status == 0, !r.timedOut else {
            throw SMTPClient.Failure("smtp-source failed (\(r.status)\(r.timedOut ? ", timed out" : "")): \(r.stderr)")
        }
        return r
    }
}
