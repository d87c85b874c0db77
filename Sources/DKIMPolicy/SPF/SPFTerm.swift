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
