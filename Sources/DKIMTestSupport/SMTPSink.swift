import Foundation
import Glibc

/// Postfix's smtp-sink, writing each transaction to a file of its own (how its dumps look:
/// ../shared/notes/postfix-testing.md).
public final class SMTPSink {
    public struct Arrived {
        /// Dump file → message with CRLF line ends (smtp-sink's X- and Received lines kept on top).
        public var files: [String: [UInt8]]

        /// The message whose envelope recipient was `rcpt` (smtp-sink's `X-Rcpt-Args` line).
        public func message(to rcpt: String) -> [UInt8]? {
            files.values.first { Lab.text($0).contains("X-Rcpt-Args: <\(rcpt)>") }
        }
    }

    public let directory: String
    public let port: Int
    private var process: SpawnedProcess?

    /// The pid of smtp-sink while it runs.
    public var pid: pid_t? { process?.pid }

    public init(directory: String, port: Int) throws {
        self.directory = directory
        self.port = port
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chown(directory, Postfix.user.uid, Postfix.user.gid)
        let process = try SpawnedProcess("/usr/sbin/smtp-sink",
                                         ["-u", "postfix", "-d", directory + "/%H%M%S.", "127.0.0.1:\(port)", "16"],
                                         output: directory + ".log")
        self.process = process
        guard Loopback.waitUntilListening(port, alive: { process.isRunning }) else {
            stop()
            let log = (try? String(contentsOfFile: directory + ".log", encoding: .utf8)) ?? ""
            throw SMTPClient.Failure("smtp-sink did not start: \(log)")
        }
    }

    /// The paths of the dump files written so far, one per transaction.
    public var dumpFiles: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).map { directory + "/" + $0 }
    }

    /// One dump with CRLF line ends (smtp-sink writes LF; DKIM is computed over CRLF); nil when unreadable.
    public static func message(inDump path: String) -> [UInt8]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        var crlf: [UInt8] = []
        crlf.reserveCapacity(data.count + data.count / 40)
        for b in data {
            if b == UInt8(ascii: "\n") { crlf.append(UInt8(ascii: "\r")) }
            crlf.append(b)
        }
        return crlf
    }

    public func messages() -> Arrived {
        var files: [String: [UInt8]] = [:]
        for path in dumpFiles {
            if let m = Self.message(inDump: path) { files[URL(fileURLWithPath: path).lastPathComponent] = m }
        }
        return Arrived(files: files)
    }

    /// Whether a dump (as `message(inDump:)` gives it) is whole: smtp-sink ends it with an empty line.
    public static func isComplete(_ message: [UInt8]) -> Bool {
        message.suffix(4).elementsEqual("\r\n\r\n".utf8)
    }

    /// Waits (bounded) until `count` dumps are there and complete (each ends with the extra empty line).
    public func waitForMessages(_ count: Int, timeout: TimeInterval = 20) throws -> Arrived {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let m = messages()
            if m.files.count >= count && m.files.values.allSatisfy(Self.isComplete) {
                return m
            }
            if Date() > deadline {
                throw SMTPClient.Failure("the sink has \(m.files.count) of \(count) messages after \(Int(timeout)) s")
            }
            usleep(50_000)
        }
    }

    public func stop() { process?.stop(); process = nil }
}
