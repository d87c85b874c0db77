import Foundation

/// Puts DKIM records into DNS for `dkimkey rotate`: RFC 2136 updates (`--publish nsupdate`) or a
/// command of the DNS provider's (`--publish-command`).
public protocol RecordPublisher: Sendable {
    /// Makes the TXT record at `name` exactly `value`, replacing what was there.
    func replace(name: String, value: String) throws(ToolError)
    /// Removes every TXT record at `name`.
    func delete(name: String) throws(ToolError)
    /// What it is, for messages ("the DNS server 192.0.2.53 (RFC 2136)").
    var describes: String { get }
}

/// `--publish-command CMD`: runs `CMD ACTION NAME VALUE` for each change, ACTION being `publish`
/// (a new key's record), `revoke` (the revoked form `v=DKIM1; p=`) or `delete` (VALUE empty).
/// The arguments are passed as they are, never through a shell; a non-zero exit is an error that
/// names the command and what it printed.
public struct CommandPublisher: RecordPublisher {
    public let command: String

    public init(command: String) {
        self.command = command
    }

    public var describes: String { "the command \(command)" }

    public func replace(name: String, value: String) throws(ToolError) {
        try run([value == KeyRotation.revokedRecord ? "revoke" : "publish", name, value])
    }

    public func delete(name: String) throws(ToolError) {
        try run(["delete", name, ""])
    }

    func run(_ arguments: [String]) throws(ToolError) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        do {
            try process.run()
        } catch {
            throw ToolError("--publish-command \(command): cannot run it: \(error.localizedDescription)")
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let said = String(decoding: data.prefix(2000), as: UTF8.self)
            throw ToolError("--publish-command \(command) \(arguments[0]) \(arguments[1]) failed (exit "
                + "\(process.terminationStatus)): \(said)")
        }
    }
}
