import DKIM

/// A resolver that also says how long its answer may be kept (the records' TTL).
public protocol TTLTXTResolver: TXTResolver {
    /// The answer and its TTL in seconds (nil when the answer has none, e.g. a failure).
    func lookupTXTWithTTL(_ name: String) -> (result: TXTLookupResult, ttl: UInt32?)
}
