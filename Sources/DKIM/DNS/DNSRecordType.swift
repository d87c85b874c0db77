/// The record types the client asks for (RFC 1035 §3.2.2; AAAA: RFC 3596 §2.1; PTR, for SPF's `ptr`
/// mechanism and `%{p}` macro: RFC 1035 §3.3.12, RFC 7208 §5.5).
public enum DNSRecordType: UInt16, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case a = 1
    case cname = 5
    case ptr = 12
    case mx = 15
    case txt = 16
    case aaaa = 28

    public var description: String {
        switch self {
        case .a: "A"
        case .cname: "CNAME"
        case .ptr: "PTR"
        case .mx: "MX"
        case .txt: "TXT"
        case .aaaa: "AAAA"
        }
    }
}
