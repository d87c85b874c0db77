/// What a query found: RFC 2308 §2 tells a name that does not exist (NXDOMAIN) from one that
/// has no records of the type (NODATA), and both from a lookup that failed.
public enum DNSLookupResult: Sendable, Equatable {
    /// At least one record of the type asked for.
    case answer(DNSAnswer)
    /// The name exists but has no record of the type (RCODE 0, empty answer; RFC 2308 §2.2).
    case noData
    /// The name does not exist (RCODE 3, NXDOMAIN; RFC 2308 §2.1).
    case nameNotFound
    /// No usable answer; asking again later may succeed.
    case temporaryFailure(DNSFailure)
}
