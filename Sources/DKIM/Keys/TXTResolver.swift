/// What a TXT lookup found (RFC 6376 §6.1.2 distinguishes a missing key from an unreachable one).
public enum TXTLookupResult: Sendable, Equatable {
    /// The TXT records at the name, each with its character-strings already joined (§3.6.2.2).
    case records([String])
    /// NXDOMAIN, or the name has no TXT records: PERMFAIL, no key for signature.
    case nameNotFound
    /// SERVFAIL, timeout, garbage: TEMPFAIL, key unavailable.
    case temporaryFailure(reason: String)
}

/// Looks up TXT records. Implementations may block; they are called from worker threads.
public protocol TXTResolver: Sendable {
    func lookupTXT(_ name: String) -> TXTLookupResult
}

/// A resolver that can sometimes answer without any I/O (a table, a warm cache): callers that
/// would otherwise hand the lookup to another thread can take the answer at once.
public protocol ImmediateTXTResolver: TXTResolver {
    /// The answer when it is at hand, or nil when a query would be needed.
    func immediateLookupTXT(_ name: String) -> TXTLookupResult?
}
