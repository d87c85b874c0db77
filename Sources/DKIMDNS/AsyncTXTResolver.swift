import DKIM
import Dispatch

/// Looks TXT records up without blocking the caller: the answer comes to a completion.
public protocol AsyncTXTResolver: Sendable {
    /// Starts the lookup and returns at once. `completion` is called exactly once, with the
    /// result and its TTL (nil when there is none), by `deadline` at the latest: after it the
    /// result is a temporary failure (RFC 6376 §6.1.2, key unavailable). It may be called on
    /// a thread of the resolver's; it must be quick and must not block.
    func lookupTXT(_ name: String, deadline: DispatchTime,
                   completion: @escaping @Sendable (TXTLookupResult, UInt32?) -> Void)
}
