/// An error the command line reports as one clear sentence, with the exit code to use.
public struct ToolError: Error, CustomStringConvertible, Sendable {
    public var message: String
    /// 2 for usage and I/O errors, 1 for "did not verify".
    public var exitCode: Int32

    public init(_ message: String, exitCode: Int32 = 2) {
        self.message = message
        self.exitCode = exitCode
    }

    public var description: String { message }
}
