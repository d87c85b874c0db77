import DKIM
import Foundation

/// A TXT cache shared by all connections (thread-safe).
///
/// Answers are kept for their TTL within a floor and a cap; a name that does not exist is kept
/// for a short negative time; temporary failures only for a few seconds, so a dead server is not
/// asked for every message while it stays dead. Concurrent lookups of one name while a query is
/// under way wait for that query instead of sending their own. The number of entries is bounded.
public final class CachingTXTResolver: ImmediateTXTResolver, @unchecked Sendable {
    public struct Limits: Sendable {
        public var minimumTTL: Double = 60
        public var maximumTTL: Double = 3600
        public var negativeTTL: Double = 60
        public var temporaryFailureTTL: Double = 5
        public var maximumEntries = 10_000
        public init() {}
    }

    private struct Entry {
        var result: TXTLookupResult
        var expires: Double
        var sequence: Int
    }

    private let upstream: any TTLTXTResolver
    private let limits: Limits
    private let clock: @Sendable () -> Double
    private let condition = NSCondition()
    private var entries: [String: Entry] = [:]
    private var inFlight = Set<String>()
    private var counters = (queries: 0, hits: 0)
    private var sequence = 0

    /// - Parameter clock: seconds on a monotonic clock (injected for tests).
    public init(upstream: any TTLTXTResolver, limits: Limits = Limits(),
                clock: @escaping @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }) {
        self.upstream = upstream
        self.limits = limits
        self.clock = clock
    }

    /// Queries sent upstream and answers served from the cache, so far.
    public var statistics: (queries: Int, hits: Int) {
        condition.lock(); defer { condition.unlock() }
        return counters
    }

    /// The cached answer if it is still fresh, without asking the server.
    public func immediateLookupTXT(_ name: String) -> TXTLookupResult? {
        var key = name.lowercased()
        while key.hasSuffix(".") { key.removeLast() }
        condition.lock()
        defer { condition.unlock() }
        guard let e = entries[key], e.expires > clock() else { return nil }
        counters.hits += 1
        return e.result
    }

    public func lookupTXT(_ name: String) -> TXTLookupResult {
        var key = name.lowercased()
        while key.hasSuffix(".") { key.removeLast() }
        condition.lock()
        while true {
            if let e = entries[key], e.expires > clock() {
                counters.hits += 1
                condition.unlock()
                return e.result
            }
            if !inFlight.contains(key) { break }
            condition.wait()
        }
        inFlight.insert(key)
        counters.queries += 1
        condition.unlock()

        let (result, ttl) = upstream.lookupTXTWithTTL(key)

        let keep: Double
        switch result {
        case .records(let list) where !list.isEmpty:
            keep = min(limits.maximumTTL, max(limits.minimumTTL, Double(ttl ?? 0)))
        case .records, .nameNotFound:
            keep = limits.negativeTTL
        case .temporaryFailure:
            keep = limits.temporaryFailureTTL
        }
        condition.lock()
        inFlight.remove(key)
        if keep > 0 {
            let now = clock()
            if entries.count >= limits.maximumEntries { evict(now: now) }
            sequence += 1
            entries[key] = Entry(result: result, expires: now + keep, sequence: sequence)
        }
        condition.broadcast()
        condition.unlock()
        return result
    }

    /// Drops expired entries, then the tenth that expires soonest (oldest first) if still full.
    private func evict(now: Double) {
        entries = entries.filter { $0.value.expires > now }
        if entries.count >= limits.maximumEntries {
            let drop = entries.sorted { ($0.value.expires, $0.value.sequence) < ($1.value.expires, $1.value.sequence) }
                .prefix(max(1, limits.maximumEntries / 10))
            for (k, _) in drop { entries.removeValue(forKey: k) }
        }
    }
}
