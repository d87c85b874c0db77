import DKIM
import DKIMMilterCore
import DKIMDNS
import Dispatch
import Foundation

/// The key lookups of one message being verified, started at end of headers and filled in as
/// answers arrive, so DNS time overlaps the body transfer.
///
/// Lookups cost no thread: answers at hand (a table, a warm cache) are taken at once, the rest
/// go to the event-driven DNS client (`AsyncTXTResolver`), whose one thread serves every query
/// of the process. A dead server therefore delays only the messages whose keys it holds, and
/// each of them no longer than its own deadline (RFC 6376 §6.1.2: then the key is unavailable,
/// a temperror).
public final class KeyLookups: @unchecked Sendable {
    private let condition = NSCondition()
    private var answers: [String: TXTLookupResult] = [:]
    public let names: [String]
    public let deadline: DispatchTime

    /// Starts looking the names up through the message's resolver.
    public init(_ names: [String], resolver: any TXTResolver, deadline: DispatchTime) {
        self.names = names
        self.deadline = deadline
        let immediate = resolver as? any ImmediateTXTResolver
        let async = resolver as? any AsyncTXTResolver
        for name in names {
            if let answer = immediate?.immediateLookupTXT(name) {
                record(name, answer)
            } else if let async {
                async.lookupTXT(name, deadline: deadline) { [self] result, _ in record(name, result) }
            } else {
                // A resolver that can only block (none the milter builds): ask on this thread.
                record(name, resolver.lookupTXT(name))
            }
        }
    }

    private func record(_ name: String, _ answer: TXTLookupResult) {
        condition.lock()
        answers[name] = answer
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until every name has an answer or the deadline has passed; names still without an
    /// answer then are left out (the session treats them as a temporary failure).
    /// - Returns: the answers and the seconds spent waiting.
    public func wait() -> (answers: [String: TXTLookupResult], waited: Double) {
        let start = DispatchTime.now()
        condition.lock()
        while names.contains(where: { answers[$0] == nil }) {
            let now = DispatchTime.now()
            guard now < deadline else { break }
            let left = Double(deadline.uptimeNanoseconds - now.uptimeNanoseconds) / 1e9
            _ = condition.wait(until: Date().addingTimeInterval(left))
        }
        let out = answers
        condition.unlock()
        return (out, Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
    }
}
