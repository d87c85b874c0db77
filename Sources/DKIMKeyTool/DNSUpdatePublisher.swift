import DKIM
import DKIMDNS
import DKIMOpenSSL

/// `--publish nsupdate --server IP[:PORT] --tsig-key FILE`: records put in place by DNS UPDATE
/// (RFC 2136) signed with TSIG HMAC-SHA256 (RFC 8945). The key file is refused when others may
/// read it, before anything is sent; the secret appears in no message.
public struct DNSUpdatePublisher: RecordPublisher {
    let client: DNSUpdateClient
    let server: String
    /// The TTL of the records published (short: a rotation's steps are seen soon).
    public let ttl: UInt32

    public init(server: String, tsigKeyFile: String, ttl: UInt32 = 300) throws(ToolError) {
        do {
            client = try DNSUpdateClient(server: server, tsigKeyFile: tsigKeyFile, hmac: HMACSHA256.authenticationCode)
        } catch {
            throw ToolError(error.reason)
        }
        self.server = server
        self.ttl = ttl
    }

    public var describes: String { "the DNS server \(server) (RFC 2136)" }

    public func replace(name: String, value: String) throws(ToolError) {
        do {
            try client.replaceTXT(name: name, value: value, ttl: ttl)
        } catch {
            throw ToolError(error.reason)
        }
    }

    public func delete(name: String) throws(ToolError) {
        do {
            try client.deleteTXT(name: name)
        } catch {
            throw ToolError(error.reason)
        }
    }
}
