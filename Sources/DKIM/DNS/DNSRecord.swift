/// The data of one resource record of a type the client reads (RFC 1035 §3.3, §3.4; RFC 3596).
public enum DNSRecord: Sendable, Hashable, CustomStringConvertible {
    /// An IPv4 address, its 4 bytes in network order (RFC 1035 §3.4.1).
    case a([UInt8])
    /// An IPv6 address, its 16 bytes in network order (RFC 3596 §2.2).
    case aaaa([UInt8])
    /// A mail exchanger and its preference, lower first (RFC 1035 §3.3.9).
    case mx(preference: UInt16, exchange: String)
    /// A TXT record, its character-strings joined with nothing between them (RFC 1035 §3.3.14;
    /// RFC 6376 §3.6.2.2 for DKIM keys, RFC 7208 §3.3 for SPF).
    case txt(String)
    /// An alias and the canonical name it points to (RFC 1035 §3.3.1).
    case cname(String)
    /// The name an address maps back to, at `….in-addr.arpa` or `….ip6.arpa` (RFC 1035 §3.3.12).
    case ptr(String)

    /// The record type this data belongs to.
    public var type: DNSRecordType {
        switch self {
        case .a: .a
        case .aaaa: .aaaa
        case .mx: .mx
        case .txt: .txt
        case .cname: .cname
        case .ptr: .ptr
        }
    }

    /// The data in presentation form (addresses as 192.0.2.1 and 2001:db8::1).
    public var description: String {
        switch self {
        case .a(let bytes): bytes.map(String.init).joined(separator: ".")
        case .aaaa(let bytes): Self.ipv6Text(bytes)
        case .mx(let preference, let exchange): "\(preference) \(exchange)"
        case .txt(let text): text
        case .cname(let target): target
        case .ptr(let name): name
        }
    }

    /// RFC 5952 §4: groups in lower-case hex without leading zeros, the longest run of two or
    /// more zero groups (the first of equal runs) written as "::".
    private static func ipv6Text(_ bytes: [UInt8]) -> String {
        guard bytes.count == 16 else { return bytes.map { String($0, radix: 16) }.joined(separator: ":") }
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        var best = (start: -1, length: 0)
        var run = (start: -1, length: 0)
        for (i, g) in groups.enumerated() {
            if g == 0 {
                run = run.start < 0 ? (i, 1) : (run.start, run.length + 1)
                if run.length > best.length { best = run }
            } else {
                run = (-1, 0)
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard best.length >= 2 else { return hex.joined(separator: ":") }
        let head = hex[..<best.start].joined(separator: ":")
        let tail = hex[(best.start + best.length)...].joined(separator: ":")
        return head + "::" + tail
    }
}
