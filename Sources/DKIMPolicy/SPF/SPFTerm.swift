/// One term of an SPF record (RFC 7208 §4.6.1, §5, §6): a directive (a qualifier and a
/// mechanism) or a modifier.
public enum SPFTerm: Sendable, Hashable {
    case directive(SPFQualifier, SPFMechanism)
    /// `redirect=` (§6.1): the record of another domain decides when no mechanism matches.
    case redirect(SPFMacroString)
    /// `exp=` (§6.2): where the explanation of a fail is.
    case explanation(SPFMacroString)
    /// A modifier this version of SPF does not know: ignored (§6), but its macros must be valid.
    case unknownModifier(name: String, value: SPFMacroString)

    /// Whether evaluating the term costs a DNS query that counts toward the limit of 10 (§4.6.4).
    public var countsAsLookup: Bool {
        switch self {
        case .directive(_, let m): m.countsAsLookup
        case .redirect: true
        case .explanation, .unknownModifier: false
        }
    }
}

/// The result a matching mechanism gives (RFC 7208 §4.6.2): `+` pass (the default), `-` fail,
/// `~` softfail, `?` neutral.
public enum SPFQualifier: Character, Sendable, Hashable {
    case pass = "+"
    case fail = "-"
    case softfail = "~"
    case neutral = "?"

    public var result: SPFResult {
        switch self {
        case .pass: .pass
        case .fail: .fail
        case .softfail: .softfail
        case .neutral: .neutral
        }
    }
}

/// The CIDR prefix lengths of an `a` or `mx` mechanism: `/N` for IPv4, `//N` for IPv6 (RFC 7208 §5.6).
public struct SPFDualCIDR: Sendable, Hashable {
    public var ipv4: Int = 32
    public var ipv6: Int = 128

    public init(ipv4: Int = 32, ipv6: Int = 128) {
        self.ipv4 = ipv4
        self.ipv6 = ipv6
    }

    /// The length for an address of `ip`'s family.
    public func length(for ip: IPAddress) -> Int { ip.isIPv6 ? ipv6 : ipv4 }
}

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
