/// Looks up the records of one type at a name: the DNS client behind a cache in the tools, a
/// table in the tests. Implementations may block; the policy checks (SPF, DMARC) call them one
/// query at a time and stop at the first temporary failure.
public protocol DNSResolver: Sendable {
    /// The records of `type` at `name` (CNAMEs already followed), NODATA, NXDOMAIN, or why none
    /// could be had.
    func lookup(_ name: String, type: DNSRecordType) -> DNSLookupResult
}

extension DNSResolver {
    /// This resolver as the TXT resolver the DKIM key checks take.
    public var txtResolver: DNSTXTResolver { DNSTXTResolver(self) }
}
