import DKIMPolicy
import Foundation

/// Postfix's `relayhost`, as `postconf -c DIR -h relayhost` prints it (Postfix itself reads the
/// configuration: defaults, `$name` expansions and overrides are all applied).
public enum PostfixRelayhost {
    /// The relay hosts of the configuration in `directory`; empty when Postfix delivers directly.
    public static func read(configDirectory directory: String,
                            postconf: String = "/usr/sbin/postconf") throws(ToolError) -> [RelayHost] {
        guard FileManager.default.fileExists(atPath: directory + "/main.cf") else {
            throw ToolError("--postfix-config \(directory): there is no main.cf there; give the directory Postfix "
                + "reads, such as /etc/postfix")
        }
        guard FileManager.default.isExecutableFile(atPath: postconf) else {
            throw ToolError("--postfix-config needs \(postconf) (Debian package postfix); or name the relay with "
                + "--relay")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: postconf)
        process.arguments = ["-c", directory, "-h", "relayhost"]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            throw ToolError("cannot run \(postconf): \(error.localizedDescription)")
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let problem = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ToolError("postconf -c \(directory) -h relayhost failed: "
                + problem.split(separator: "\n").filter { !$0.contains("warning:") }.joined(separator: "; "))
        }
        return RelayHost.postfixList(String(decoding: data, as: UTF8.self))
    }
}
