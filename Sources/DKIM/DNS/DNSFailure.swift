/// Why a query got no usable answer. Every case is temporary: asking again later may succeed
/// (RFC 6376 §6.1.2 TEMPFAIL; RFC 7208 §2.6.6 temperror; RFC 9989 temperror).
public enum DNSFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// No acceptable answer before the query's deadline or after the last try.
    case timedOut
    /// The server answered SERVFAIL (RCODE 2, RFC 1035 §4.1.1).
    case serverFailure
    /// The server answered REFUSED (RCODE 5).
    case refused
    /// Another response code that carries no answer (FORMERR, NOTIMP, …).
    case responseCode(UInt8)
    /// The answer had the query's id and question but could not be read.
    case malformed
    /// The answer's CNAMEs loop or chain further than the client follows.
    case cnameLoop
    /// The answer came truncated over UDP and could not be had over TCP (RFC 7766 §5).
    case truncated
    /// A socket call failed, e.g. nothing listens at the server's address (ICMP port unreachable).
    case unreachable(errno: Int32)
    /// The client already has its maximum of queries outstanding.
    case tooManyOutstanding(limit: Int)
    /// The name cannot be sent: an empty label, one above 63 bytes, or above 255 bytes in all.
    case invalidName
    /// The client was released while the query was outstanding.
    case shutDown
    /// The query was not sent: the check that asked already made its most queries (a bound on
    /// what hostile or broken DNS can cost; `dkimkey doctor` states its bounds in the README).
    case queryLimitReached(limit: Int)

    public var description: String {
        switch self {
        case .timedOut: "the DNS server did not answer in time"
        case .serverFailure: "the DNS server answered SERVFAIL"
        case .refused: "the DNS server refused the query"
        case .responseCode(let code): "the DNS server answered with response code \(code)"
        case .malformed: "the DNS answer is malformed"
        case .cnameLoop: "the DNS answer's CNAMEs loop or chain too far"
        case .truncated: "the DNS answer was truncated and could not be fetched over TCP"
        case .unreachable(let code): "the DNS server cannot be reached (errno \(code))"
        case .tooManyOutstanding(let limit): "too many DNS queries outstanding (at most \(limit))"
        case .invalidName: "the name is not a valid DNS name"
        case .shutDown: "the DNS client was shut down"
        case .queryLimitReached(let limit): "the check reached its limit of \(limit) DNS queries"
        }
    }
}
