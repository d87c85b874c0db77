/// The result of check_host() (RFC 7208 §2.6), in the words of RFC 8601 `spf=`.
public enum SPFResult: String, Sendable, Hashable, Codable {
    /// No SPF record, or the domain is not a valid name (§2.6.1).
    case none
    /// The record says nothing about the address (§2.6.2): `?all`, or no mechanism matched.
    case neutral
    /// The address is authorized (§2.6.3).
    case pass
    /// The address is not authorized (§2.6.4).
    case fail
    /// Probably not authorized (§2.6.5): `~all`.
    case softfail
    /// A DNS failure on the way; asking later may give a result (§2.6.6).
    case temperror
    /// The record cannot be read, or it breaks a limit (§2.6.7).
    case permerror
}
