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
