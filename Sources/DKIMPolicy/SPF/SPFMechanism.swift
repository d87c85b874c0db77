/// An SPF mechanism (RFC 7208 §5). A missing domain-spec means the domain being evaluated.
public enum SPFMechanism: Sendable, Hashable {
    case all
    case include(SPFMacroString)
    case a(SPFMacroString?, SPFDualCIDR)
    case mx(SPFMacroString?, SPFDualCIDR)
    /// Discouraged (§5.5): slow, unreliable, and a load on the .arpa servers.
    case ptr(SPFMacroString?)
    case ip4(IPAddress, prefixLength: Int)
    case ip6(IPAddress, prefixLength: Int)
    case exists(SPFMacroString)

    /// `include`, `a`, `mx`, `ptr` and `exists` make DNS queries that count (§4.6.4).
    public var countsAsLookup: Bool {
        switch self {
        case .include, .a, .mx, .ptr, .exists: true
        case .all, .ip4, .ip6: false
        }
    }
}
