import DKIM
import Dispatch
import Foundation

/// Runs the key lookups of messages being verified, on threads of its own (never GCD's global
/// pool, so a DNS outage cannot take the threads the rest of the process needs), and lets each
/// message wait for its answers only until its deadline.
///
/// Answers a table or a warm cache holds are taken at once, without a thread hop.
public final class KeyLookupPool: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [(name: String, resolver: any TXTResolver, pending: PendingLookups)] = []
    private let maximumQueued: Int

    /// - Parameters:
    ///   - threads: lookups run at the same time at most.
    ///   - maximumQueued: lookups waiting for a thread at most; more are answered as a temporary
    ///     failure at once rather than piling up.
    public init(threads: Int = 16, maximumQueued: Int = 4096) {
        self.maximumQueued = maximumQueued
        for i in 0..<max(1, threads) {
            let t = Thread { [unowned self] in self.work() }
            t.name = "dkim-dns-\(i)"
            t.start()
        }
    }

    /// Starts looking the names up (the resolver is the message's policy's: a reload may change it).
    public func start(_ names: [String], resolver: any TXTResolver) -> PendingLookups {
        let pending = PendingLookups()
        let immediate = resolver as? any ImmediateTXTResolver
        for name in names {
            if let answer = immediate?.immediateLookupTXT(name) {
                pending.record(name, answer)
                continue
            }
            condition.lock()
            if queue.count < maximumQueued {
                queue.append((name, resolver, pending))
                condition.signal()
                condition.unlock()
            } else {
                condition.unlock()
                pending.record(name, .temporaryFailure(reason: "too many key lookups under way"))
            }
        }
        return pending
    }

    private func work() {
        while true {
            condition.lock()
            while queue.isEmpty { condition.wait() }
            let (name, resolver, pending) = queue.removeFirst()
            condition.unlock()
            // A message that gave up waiting no longer needs its answer.
            if pending.isAbandoned { continue }
            pending.record(name, resolver.lookupTXT(name))
        }
    }
}

/// The answers of one message's lookups, filled in as they arrive.
public final class PendingLookups: @unchecked Sendable {
    private let condition = NSCondition()
    private var answers: [String: TXTLookupResult] = [:]
    private var abandoned = false

    var isAbandoned: Bool {
        condition.lock(); defer { condition.unlock() }
        return abandoned
    }

    func record(_ name: String, _ answer: TXTLookupResult) {
        condition.lock()
        answers[name] = answer
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until every name has an answer or the deadline has passed; names still without an
    /// answer then are left out (the caller treats them as a temporary failure).
    /// - Returns: the answers and the seconds spent waiting.
    public func wait(for names: [String], until deadline: Date) -> (answers: [String: TXTLookupResult], waited: Double) {
        let start = Date()
        condition.lock()
        while names.contains(where: { answers[$0] == nil }) {
            if !condition.wait(until: deadline) { break }
        }
        abandoned = true
        let out = answers
        condition.unlock()
        return (out, Date().timeIntervalSince(start))
    }
}
