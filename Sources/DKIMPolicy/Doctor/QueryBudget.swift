import DKIM
import Synchronization

/// A resolver that passes on at most `limit` lookups and answers the rest with
/// `.queryLimitReached` at once (a temporary failure: the check reports temperror for what it
/// could not learn). Each part of `dkimkey doctor` gets its own, so hostile DNS cannot make one
/// part cost more than its share, and the whole run has a stated bound.
public final class QueryBudget: DNSResolver, Sendable {
    public let limit: Int
    private let upstream: any DNSResolver
    private let count = Mutex(0)

    public init(_ upstream: any DNSResolver, limit: Int) {
        self.upstream = upstream
        self.limit = limit
    }

    /// Lookups asked so far (those refused included).
    public var used: Int { count.withLock { $0 } }

    public func lookup(_ name: String, type: DNSRecordType) -> DNSLookupResult {
        let allowed = count.withLock { n -> Bool in
            n += 1
            return n <= limit
        }
        return allowed ? upstream.lookup(name, type: type) : .temporaryFailure(.queryLimitReached(limit: limit))
    }
}
