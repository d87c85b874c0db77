import ArgumentParser
import DKIMKeyTool
import Foundation

@main
struct DKIMKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dkimkey",
        abstract: "Make DKIM keys, sign messages and explain DKIM signatures.",
        discussion: "Exit codes: 0 success; 1 a message did not verify or a published key failed its check; "
            + "2 usage or I/O error.",
        subcommands: [Generate.self, Sign.self, Verify.self, Check.self, Rotate.self, Doctor.self])

    /// Runs the command; usage errors exit 2, as documented, not ArgumentParser's 64.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as ToolError {
            Output.error("dkimkey: \(error.message)")
            Foundation.exit(error.exitCode)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                Output.error(fullMessage(for: error))
                Output.error("Run 'dkimkey --help' for usage.")
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

enum Output {
    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }
    static func bytes(_ bytes: [UInt8]) {
        FileHandle.standardOutput.write(Data(bytes))
    }
}
