import DKIM
import Dispatch
import Foundation

/// The DNS client as a `DNSResolver` for every record type, each answer kept for its TTL with the
/// key cache's floor, cap, negative time, failure time and bounds (`CachingTXTResolver.Limits`),
/// and every query ended by one deadline: a tool that makes many lookups (`dkimkey doctor`) asks
/// the same name once and cannot run past its time limit, however slowly the DNS answers.
public final class CachingDNSResolver: DNSResolver, @unchecked Sendable {
    public typealias Limits = CachingTXTResolver.Limits

    private struct Key: Hashable {
        var name: String
        var type: DNSRecordType
    }

    private struct Entry {
        var result: DNSLookupResult
        var expires: Double
        var bytes: Int
    }

    private let client: DNSClient
    private let limits: Limits
    private let deadline: DispatchTime
    private let clock: @Sendable () -> Double
    private let lock = NSLock()
    private var entries: [Key: Entry] = [:]
    private var totalBytes = 0
    private var counters = (queries: 0, hits: 0)

    /// - Parameters:
    ///   - deadline: no query waits past it; after it every lookup that is not cached fails at
    ///     once with `.timedOut`.
    ///   - clock: seconds on a monotonic clock (injected for tests).
    public init(client: DNSClient, limits: Limits = Limits(), deadline: DispatchTime = .distantFuture,
                clock: @escaping @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }) {
        self.client = client
        self.limits = limits
        self.deadline = deadline
        self.clock = clock
    }

    /// Queries sent to the server and answers served from the cache, so far.
    public var statistics: (queries: Int, hits: Int) {
        lock.lock(); defer { lock.unlock() }
        return counters
    }

    public func lookup(_ name: String, type: DNSRecordType) -> DNSLookupResult {
        var lowered = name.lowercased()
        while lowered.hasSuffix(".") { lowered.removeLast() }
        let key = Key(name: lowered, type: type)
        lock.lock()
        if let entry = entries[key], entry.expires > clock() {
            counters.hits += 1
            lock.unlock()
            return entry.result
        }
        counters.queries += 1
        lock.unlock()
        let result: DNSLookupResult = DispatchTime.now() >= deadline
            ? .temporaryFailure(.timedOut)
            : client.lookup(lowered, type: type, deadline: deadline)
        store(key, result)
        return result
    }

    /// Keeps a result as long as its kind allows, within the bounds.
    private func store(_ key: Key, _ result: DNSLookupResult) {
        let keep: Double
        let bytes: Int
        switch result {
        case .answer(let answer):
            keep = min(limits.maximumTTL, max(limits.minimumTTL, Double(answer.ttl)))
            bytes = answer.records.reduce(96 + key.name.utf8.count) { $0 + 32 + $1.description.utf8.count }
        case .noData, .nameNotFound:
            keep = limits.negativeTTL
            bytes = 96 + key.name.utf8.count
        case .temporaryFailure:
            keep = limits.temporaryFailureTTL
            bytes = 96 + key.name.utf8.count
        }
        lock.lock(); defer { lock.unlock() }
        guard keep > 0, bytes <= limits.maximumBytes, limits.maximumEntries > 0 else { return }
        let now = clock()
        if let old = entries.removeValue(forKey: key) { totalBytes -= old.bytes }
        if entries.count >= limits.maximumEntries || totalBytes + bytes > limits.maximumBytes {
            entries = entries.filter { $0.value.expires > now }
            totalBytes = entries.values.reduce(0) { $0 + $1.bytes }
            // Still full: drop the entries that expire first.
            for (k, e) in entries.sorted(by: { $0.value.expires < $1.value.expires }) {
                if entries.count < limits.maximumEntries && totalBytes + bytes <= limits.maximumBytes { break }
                entries.removeValue(forKey: k)
                totalBytes -= e.bytes
            }
        }
        entries[key] = Entry(result: result, expires: now + keep, bytes: bytes)
        totalBytes += bytes
    }
}
