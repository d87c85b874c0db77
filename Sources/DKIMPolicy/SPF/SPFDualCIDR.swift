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
