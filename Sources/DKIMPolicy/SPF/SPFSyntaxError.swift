/// Why an SPF record cannot be read (RFC 7208 §4.6: a syntax error makes check_host() return
/// permerror). The message names the term and the rule it breaks.
public struct SPFSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
