import DKIM

/// An SPF record (RFC 7208 §4.5, §4.6): `v=spf1` and its terms, read with the grammar of §4.6.1,
/// §5 and §6. A record that breaks it makes check_host() give permerror.
public struct SPFRecord: Sendable, Hashable {
    public let terms: [SPFTerm]
    /// The terms as written, in the same order as `terms`.
    public let termTexts: [String]
    public let text: String

    /// Whether a TXT record is an SPF record: `v=spf1` (any case) alone or followed by a space
    /// (RFC 7208 §4.5). Others at the name (site verifications, DKIM…) are not SPF records.
    public static func isSPFRecord(_ text: String) -> Bool {
        let bytes = Array(text.utf8.prefix(7))
        guard bytes.count >= 6, String(decoding: bytes.prefix(6), as: UTF8.self).lowercased() == "v=spf1" else {
            return false
        }
        return bytes.count == 6 || bytes[6] == 0x20
    }

    public init(parsing text: String) throws(SPFSyntaxError) {
        guard Self.isSPFRecord(text) else {
            throw SPFSyntaxError("the record does not start with v=spf1 (RFC 7208 §4.5)")
        }
        // Terms are separated by one or more spaces (§4.6.1: *( 1*SP ( directive / modifier ) )).
        let pieces = text.dropFirst(6).split(separator: " ").map(String.init)
        var terms: [SPFTerm] = []
        var seenRedirect = false
        var seenExplanation = false
        for piece in pieces {
            let term = try Self.term(piece)
            switch term {
            case .redirect:
                // §6: redirect and exp may each appear at most once.
                guard !seenRedirect else {
                    throw SPFSyntaxError("redirect= appears more than once; a record may have one (RFC 7208 §6)")
                }
                seenRedirect = true
            case .explanation:
                guard !seenExplanation else {
                    throw SPFSyntaxError("exp= appears more than once; a record may have one (RFC 7208 §6)")
                }
                seenExplanation = true
            default: break
            }
            terms.append(term)
        }
        self.terms = terms
        self.termTexts = pieces
        self.text = text
    }

    /// The redirect= target, if any.
    public var redirect: SPFMacroString? {
        for t in terms { if case .redirect(let d) = t { return d } }
        return nil
    }

    /// The qualifier of the `all` mechanism, if the record has one.
    public var allQualifier: SPFQualifier? {
        for t in terms { if case .directive(let q, .all) = t { return q } }
        return nil
    }

    // MARK: - Terms

    static func term(_ text: String) throws(SPFSyntaxError) -> SPFTerm {
        let shown = Printable.escaped(text, limit: 80)
        // modifier = name "=" macro-string, name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
        if let eq = text.firstIndex(of: "="), isModifierName(text[..<eq]) {
            let name = text[..<eq].lowercased()
            let value = String(text[text.index(after: eq)...])
            switch name {
            case "redirect", "exp":
                let spec = try SPFMacroString(parsing: value, explanation: false)
                guard !value.isEmpty, spec.isDomainSpec else {
                    throw SPFSyntaxError("\(shown): \(name)= needs a domain name such as _spf.example.com "
                        + "(RFC 7208 §6)")
                }
                return name == "redirect" ? .redirect(spec) : .explanation(spec)
            default:
                return .unknownModifier(name: name, value: try SPFMacroString(parsing: value))
            }
        }
        var rest = Substring(text)
        var qualifier = SPFQualifier.pass
        if let first = rest.first, let q = SPFQualifier(rawValue: first) {
            qualifier = q
            rest = rest.dropFirst()
        }
        let nameEnd = rest.firstIndex { $0 == ":" || $0 == "/" } ?? rest.endIndex
        let name = rest[..<nameEnd].lowercased()
        var argument: Substring?
        var cidr: Substring = ""
        if nameEnd < rest.endIndex {
            if rest[nameEnd] == ":" {
                argument = rest[rest.index(after: nameEnd)...]
            } else {
                cidr = rest[nameEnd...]
            }
        }
        func domainSpec(_ text: Substring?, required: Bool) throws(SPFSyntaxError) -> SPFMacroString? {
            guard let text else {
                if required { throw SPFSyntaxError("\(shown): \(name) needs a domain, as in \(name):example.com") }
                return nil
            }
            let spec = try SPFMacroString(parsing: String(text))
            guard !text.isEmpty, spec.isDomainSpec else {
                throw SPFSyntaxError("\(shown): \"\(Printable.escaped(String(text), limit: 80))\" is not a domain name "
                    + "(it must end in a name such as example.com, not an address or a single label; RFC 7208 §7.1)")
            }
            return spec
        }
        switch name {
        case "all":
            guard argument == nil, cidr.isEmpty else {
                throw SPFSyntaxError("\(shown): all takes no argument (RFC 7208 §5.1)")
            }
            return .directive(qualifier, .all)
        case "include", "exists":
            let spec = try domainSpec(argument, required: true)!
            return .directive(qualifier, name == "include" ? .include(spec) : .exists(spec))
        case "ptr":
            return .directive(qualifier, .ptr(try domainSpec(argument, required: false)))
        case "a", "mx":
            var domainText = argument
            if let arg = argument {
                let (domain, suffix) = splitDualCIDR(arg)
                domainText = domain
                cidr = suffix
            }
            let spec = try domainSpec(domainText, required: false)
            let dual = try dualCIDR(cidr, term: shown)
            return .directive(qualifier, name == "a" ? .a(spec, dual) : .mx(spec, dual))
        case "ip4", "ip6":
            guard let arg = argument else {
                let example = name == "ip4" ? "ip4:192.0.2.0/24" : "ip6:2001:db8::/32"
                throw SPFSyntaxError("\(shown): \(name) needs an address, as in \(example)")
            }
            let (addressText, lengthText) = splitCIDR(arg)
            let v6 = name == "ip6"
            guard let address = IPAddress(String(addressText)), address.isIPv6 == v6,
                  v6 || IPAddress.parseIPv4(Array(addressText.utf8)) != nil else {
                throw SPFSyntaxError("\(shown): \"\(Printable.escaped(String(addressText), limit: 60))\" is not an "
                    + "\(v6 ? "IPv6" : "IPv4") address"
                    + (v6 ? "" : " (four numbers 0-255 without leading zeros)") + " (RFC 7208 §5.6)")
            }
            let maximum = v6 ? 128 : 32
            var length = maximum
            if let lengthText {
                guard let n = cidrNumber(lengthText), n <= maximum else {
                    throw SPFSyntaxError("\(shown): /\(Printable.escaped(String(lengthText), limit: 10)) is not a "
                        + "prefix length from 0 to \(maximum) (RFC 7208 §5.6)")
                }
                length = n
            }
            return .directive(qualifier, v6 ? .ip6(address, prefixLength: length) : .ip4(address, prefixLength: length))
        default:
            let hint = name.contains(",") || text.hasSuffix(",") ? " (terms are separated by spaces, not commas)" : ""
            throw SPFSyntaxError("\(shown) is not an SPF mechanism or modifier\(hint): the mechanisms are all, "
                + "include, a, mx, ptr, ip4, ip6 and exists (RFC 7208 §5)")
        }
    }

    static func isModifierName(_ name: Substring) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
    }

    /// `domain/24//64` → (`domain`, `/24//64`): the CIDR lengths after the domain-spec.
    static func splitDualCIDR(_ text: Substring) -> (Substring, Substring) {
        var end = text.endIndex
        if let r = trailingNumber(text[..<end]), text[..<r.lowerBound].hasSuffix("//") {
            end = text.index(r.lowerBound, offsetBy: -2)
        }
        if let r = trailingNumber(text[..<end]), text[..<r.lowerBound].hasSuffix("/"),
           !text[..<r.lowerBound].hasSuffix("//") {
            end = text.index(before: r.lowerBound)
        }
        return (text[..<end], text[end...])
    }

    /// `192.0.2.0/24` → (`192.0.2.0`, `24`).
    static func splitCIDR(_ text: Substring) -> (Substring, Substring?) {
        guard let slash = text.lastIndex(of: "/") else { return (text, nil) }
        return (text[..<slash], text[text.index(after: slash)...])
    }

    private static func trailingNumber(_ text: Substring) -> Range<Substring.Index>? {
        var start = text.endIndex
        while start > text.startIndex, let d = text[text.index(before: start)].asciiValue, d >= 0x30, d <= 0x39 {
            start = text.index(before: start)
        }
        return start == text.endIndex ? nil : start..<text.endIndex
    }

    /// `"0" / %x31-39 0*2DIGIT`: no leading zeros.
    static func cidrNumber(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 3, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        if text.count > 1 && text.first == "0" { return nil }
        return Int(text)
    }

    /// `[ "/" ip4-cidr-length ] [ "//" ip6-cidr-length ]`.
    static func dualCIDR(_ text: Substring, term: String) throws(SPFSyntaxError) -> SPFDualCIDR {
        var dual = SPFDualCIDR()
        guard !text.isEmpty else { return dual }
        var rest = text
        func bad() -> SPFSyntaxError {
            SPFSyntaxError("\(term): \(Printable.escaped(String(text), limit: 20)) is not /N (0-32) and //N (0-128) "
                + "(RFC 7208 §5.6)")
        }
        if rest.hasPrefix("/") && !rest.hasPrefix("//") {
            rest = rest.dropFirst()
            let end = rest.firstIndex(of: "/") ?? rest.endIndex
            guard let n = cidrNumber(rest[..<end]), n <= 32 else { throw bad() }
            dual.ipv4 = n
            rest = rest[end...]
        }
        if rest.hasPrefix("//") {
            rest = rest.dropFirst(2)
            guard let n = cidrNumber(rest), n <= 128 else { throw bad() }
            dual.ipv6 = n
            rest = rest[rest.endIndex...]
        }
        guard rest.isEmpty else { throw bad() }
        return dual
    }
}
