import DKIM
import Foundation

/// A TXT cache shared by all connections (thread-safe).
///
/// Answers are kept for their TTL within a floor and a cap; a name that does not exist is kept
/// for a short negative time; temporary failures only for a few seconds, so a dead server is not
/// asked for every message while it stays dead. Concurrent lookups of one name while a query is
/// under way wait for that query instead of sending their own.
///
/// The cache is bounded in entries and in bytes; when either bound is reached, expired entries go
/// first, then the least recently used. An answer holding a record longer than a key record may be
/// (`KeyRecord.maximumLength`) is passed on but never kept: it can only ever be refused, and
/// keeping it would let anyone who publishes such records fill the memory.
public final class CachingTXTResolver: ImmediateTXTResolver, AsyncTXTResolver, @unchecked Sendable {
    public struct Limits: Sendable {
        public var minimumTTL: Double = 60
        public var maximumTTL: Double = 3600
        public var negativeTTL: Double = 60
        public var temporaryFailureTTL: Double = 5
        public var maximumEntries = 10_000
        /// The bytes the entries may hold, counted by `CachingTXTResolver.size(name:result:)`.
        /// 8 MiB keeps ~2,000 answers of a 4096-bit key record (~800 bytes) with room to spare;
        /// 10,000 answers of 16 KiB would otherwise take 160 MB.
        public var maximumBytes = 8 << 20
        public init() {}
    }

    private struct Entry {
        var result: TXTLookupResult
        var expires: Double
        /// When the entry was last stored or served, for least-recently-used eviction.
        var lastUsed: Int
        var bytes: Int
    }

    private let upstream: any TTLTXTResolver
    private let limits: Limits
    private let clock: @Sendable () -> Double
    private let condition = NSCondition()
    private var entries: [String: Entry] = [:]
    private var inFlight = Set<String>()
    /// Asynchronous lookups waiting for a query another lookup started.
    private var waiters: [String: [@Sendable (TXTLookupResult, UInt32?) -> Void]] = [:]
    private var counters = (queries: 0, hits: 0)
    private var sequence = 0
    private var totalBytes = 0

    /// What a lookup did, for the metrics: served from the cache, not in it, or a query answered
    /// (with the result and the seconds it took).
    public enum Event: Sendable {
        case hit
        case miss
        case answered(TXTLookupResult, seconds: Double)
    }

    private let observer: (@Sendable (Event) -> Void)?

    /// - Parameters:
    ///   - clock: seconds on a monotonic clock (injected for tests).
    ///   - observer: told of every hit, miss and answered query (called outside the cache's lock).
    public init(upstream: any TTLTXTResolver, limits: Limits = Limits(),
                clock: @escaping @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 },
                observer: (@Sendable (Event) -> Void)? = nil) {
        self.upstream = upstream
        self.limits = limits
        self.clock = clock
        self.observer = observer
    }

    /// Queries sent upstream and answers served from the cache, so far.
    public var statistics: (queries: Int, hits: Int) {
        condition.lock(); defer { condition.unlock() }
        return counters
    }

    /// The entries held now, and the bytes they are counted as (at most `Limits.maximumBytes`).
    public var size: (entries: Int, bytes: Int) {
        condition.lock(); defer { condition.unlock() }
        return (entries.count, totalBytes)
    }

    /// What an entry is counted as: the bytes of its name and text, plus a fixed overhead per
    /// entry and per record for the dictionary slot and the string headers.
    public static func size(name: String, result: TXTLookupResult) -> Int {
        let text: Int
        switch result {
        case .records(let list): text = list.reduce(0) { $0 + 32 + $1.utf8.count }
        case .nameNotFound: text = 0
        case .temporaryFailure(let reason): text = reason.utf8.count
        }
        return 96 + name.utf8.count + text
    }

    /// The cached answer if it is still fresh, without asking the server.
    public func immediateLookupTXT(_ name: String) -> TXTLookupResult? {
        let key = Self.key(name)
        condition.lock()
        guard let result = freshEntry(key) else {
            condition.unlock()
            return nil
        }
        counters.hits += 1
        condition.unlock()
        observer?(.hit)
        return result
    }

    /// The fresh entry for a key, marked as used now. Call with the lock held.
    private func freshEntry(_ key: String) -> TXTLookupResult? {
        guard var e = entries[key], e.expires > clock() else { return nil }
        sequence += 1
        e.lastUsed = sequence
        entries[key] = e
        return e.result
    }

    public func lookupTXT(_ name: String) -> TXTLookupResult {
        let key = Self.key(name)
        condition.lock()
        while true {
            if let result = freshEntry(key) {
                counters.hits += 1
                condition.unlock()
                observer?(.hit)
                return result
            }
            if !inFlight.contains(key) { break }
            condition.wait()
        }
        inFlight.insert(key)
        counters.queries += 1
        condition.unlock()
        observer?(.miss)
        let started = clock()
        let (result, ttl) = upstream.lookupTXTWithTTL(key)
        store(key, result, ttl)
        observer?(.answered(result, seconds: clock() - started))
        return result
    }

    /// The cached answer at once when fresh; otherwise one query (shared with every lookup of
    /// the name already under way) whose answer comes to `completion` by `deadline`. Without an
    /// asynchronous upstream the query is made on the calling thread.
    public func lookupTXT(_ name: String, deadline: DispatchTime,
                          completion: @escaping @Sendable (TXTLookupResult, UInt32?) -> Void) {
        let key = Self.key(name)
        condition.lock()
        if let result = freshEntry(key) {
            counters.hits += 1
            condition.unlock()
            observer?(.hit)
            completion(result, nil)
            return
        }
        if inFlight.contains(key) {
            waiters[key, default: []].append(completion)
            condition.unlock()
            observer?(.miss)
            return
        }
        inFlight.insert(key)
        counters.queries += 1
        condition.unlock()
        observer?(.miss)
        let started = clock()
        guard let async = upstream as? any AsyncTXTResolver else {
            let (result, ttl) = upstream.lookupTXTWithTTL(key)
            store(key, result, ttl)
            observer?(.answered(result, seconds: clock() - started))
            completion(result, ttl)
            return
        }
        async.lookupTXT(key, deadline: deadline) { [self] result, ttl in
            store(key, result, ttl)
            observer?(.answered(result, seconds: clock() - started))
            completion(result, ttl)
        }
    }

    private static func key(_ name: String) -> String {
        var key = name.lowercased()
        while key.hasSuffix(".") { key.removeLast() }
        return key
    }

    /// Keeps an answer for as long as its kind allows, ends the query under way, and hands the
    /// answer to the lookups that waited for it.
    private func store(_ key: String, _ result: TXTLookupResult, _ ttl: UInt32?) {
        var keep: Double
        switch result {
        case .records(let list) where !list.isEmpty:
            keep = min(limits.maximumTTL, max(limits.minimumTTL, Double(ttl ?? 0)))
            // A record KeyRecord refuses (RFC 6376 gives no limit; 16 KiB is ours) is never worth memory.
            if list.contains(where: { $0.utf8.count > KeyRecord.maximumLength }) { keep = 0 }
        case .records, .nameNotFound:
            keep = limits.negativeTTL
        case .temporaryFailure:
            keep = limits.temporaryFailureTTL
        }
        let bytes = Self.size(name: key, result: result)
        condition.lock()
        inFlight.remove(key)
        if keep > 0, bytes <= limits.maximumBytes, limits.maximumEntries > 0 {
            let now = clock()
            if let old = entries.removeValue(forKey: key) { totalBytes -= old.bytes }
            if entries.count >= limits.maximumEntries || totalBytes + bytes > limits.maximumBytes {
                evict(now: now, making: bytes)
            }
            sequence += 1
            entries[key] = Entry(result: result, expires: now + keep, lastUsed: sequence, bytes: bytes)
            totalBytes += bytes
        }
        let waiting = waiters.removeValue(forKey: key) ?? []
        condition.broadcast()
        condition.unlock()
        for w in waiting { w(result, ttl) }
    }

    /// Makes room for an entry of `bytes`: drops the expired entries, then the least recently used
    /// until a tenth of the entries and of the bytes is free besides it (so that eviction, a sort,
    /// runs once per many insertions, not at each). Call with the lock held.
    private func evict(now: Double, making bytes: Int) {
        entries = entries.filter { $0.value.expires > now }
        totalBytes = entries.values.reduce(0) { $0 + $1.bytes }
        let entryTarget = limits.maximumEntries - max(1, limits.maximumEntries / 10)
        let byteTarget = limits.maximumBytes - bytes - limits.maximumBytes / 10
        guard entries.count > entryTarget || totalBytes > byteTarget else { return }
        for (k, e) in entries.sorted(by: { $0.value.lastUsed < $1.value.lastUsed }) {
            if entries.count <= entryTarget && totalBytes <= byteTarget { break }
            entries.removeValue(forKey: k)
            totalBytes -= e.bytes
        }
    }
}
