/// The records a query found, and how long they may be kept.
public struct DNSAnswer: Sendable, Equatable {
    /// The records of the type asked for at the end of the CNAME chain, in the message's order.
    public var records: [DNSRecord]
    /// The smallest TTL among those records and the CNAMEs that led to them, in seconds
    /// (RFC 2181 §5.2: the records of one set share a TTL; a chain is as fresh as its stalest link).
    public var ttl: UInt32
    /// The name the records are at, when CNAMEs led away from the name asked for.
    public var canonicalName: String?

    public init(records: [DNSRecord], ttl: UInt32, canonicalName: String? = nil) {
        self.records = records
        self.ttl = ttl
        self.canonicalName = canonicalName
    }
}
