import DKIM

/// A DMARC policy record (RFC 9989, "DMARC Policy Record Format"): `v=DMARC1` first, then tags
/// separated by ";". Unknown tags are ignored; `pct`, `rf` and `ri`, which RFC 9989 removed, are
/// read only to say that receivers ignore them.
public struct DMARCRecord: Sendable, Equatable {
    public enum Policy: String, Sendable, Equatable {
        case none, quarantine, reject
    }

    public enum Alignment: String, Sendable, Equatable {
        /// `r`: the organizational domains must be the same (the default).
        case relaxed = "r"
        /// `s`: the domains must be the same.
        case strict = "s"
    }

    /// `psd=` (RFC 9989): whether the domain is a public suffix domain (`y`), an organizational
    /// domain (`n`), or neither is said (`u`, the default).
    public enum PublicSuffix: String, Sendable, Equatable {
        case yes = "y", no = "n", unknown = "u"
    }

    public let text: String
    /// `p=`; nil when missing or not a known policy (see `problems`).
    public var policy: Policy?
    /// `sp=`: for subdomains of the domain holding the record.
    public var subdomainPolicy: Policy?
    /// `np=`: for subdomains that do not exist.
    public var nonexistentPolicy: Policy?
    public var dkimAlignment: Alignment = .relaxed
    public var spfAlignment: Alignment = .relaxed
    /// `t=y`: the domain owner is testing; receivers are asked not to apply the policy in full.
    public var testing = false
    public var publicSuffix: PublicSuffix = .unknown
    public var aggregateReports: [String] = []
    public var failureReports: [String] = []
    /// Tags RFC 9989 removed (`pct`, `rf`, `ri`), with their values.
    public var removedTags: [(name: String, value: String)] = []
    /// Tags this version does not know, ignored as RFC 9989 requires.
    public var unknownTags: [String] = []
    /// What is wrong with the record, in words with the fix; the record is still used.
    public var problems: [String] = []

    public static func == (a: DMARCRecord, b: DMARCRecord) -> Bool { a.text == b.text }

    /// Whether a TXT record is meant as a DMARC record: it starts with `v=DMARC1` (any spacing
    /// around "="). Records that do not are discarded by receivers (RFC 9989, DNS Tree Walk).
    public static func isDMARCRecord(_ text: String) -> Bool {
        let compact = text.drop { $0 == " " || $0 == "\t" }
        guard compact.lowercased().hasPrefix("v") else { return false }
        let rest = compact.dropFirst().drop { $0 == " " || $0 == "\t" }
        guard rest.hasPrefix("=") else { return false }
        let value = rest.dropFirst().drop { $0 == " " || $0 == "\t" }
        guard value.hasPrefix("DMARC1") else { return false }
        let after = value.dropFirst(6).drop { $0 == " " || $0 == "\t" }
        return after.isEmpty || after.hasPrefix(";")
    }

    /// Reads a record that `isDMARCRecord` accepts; nil for any other text.
    public init?(parsing text: String) {
        guard Self.isDMARCRecord(text) else { return nil }
        self.text = text
        var seen: Set<String> = []
        let parts = text.split(separator: ";", omittingEmptySubsequences: true).dropFirst()
        for part in parts {
            let trimmed = part.trimmingSpaces
            guard !trimmed.isEmpty else { continue }
            guard let eq = trimmed.firstIndex(of: "=") else {
                problems.append("\"\(Printable.escaped(String(trimmed), limit: 40))\" is not a tag=value pair; "
                    + "write tags as name=value separated by \";\"")
                continue
            }
            let name = trimmed[..<eq].trimmingSpaces.lowercased()
            let value = trimmed[trimmed.index(after: eq)...].trimmingSpaces
            guard seen.insert(name).inserted else {
                problems.append("\(name)= appears twice; receivers may use either value or discard the record. "
                    + "Fix: keep one \(name)=")
                continue
            }
            read(name: name, value: value)
        }
        if policy == nil && !seen.contains("p") {
            problems.append("p= is missing: RFC 9989 receivers apply p=none (monitoring only), and receivers that "
                + "still follow RFC 7489 may ignore the record. Fix: add p=none, p=quarantine or p=reject")
        }
    }

    private mutating func read(name: String, value: String) {
        func policyValue() -> Policy? {
            if let p = Policy(rawValue: value.lowercased()) { return p }
            problems.append("\(name)=\(Printable.escaped(value, limit: 40)) is not none, quarantine or reject")
            return nil
        }
        func alignment() -> Alignment {
            if let a = Alignment(rawValue: value.lowercased()) { return a }
            problems.append("\(name)=\(Printable.escaped(value, limit: 40)) is not r (relaxed) or s (strict); "
                + "receivers use r")
            return .relaxed
        }
        switch name {
        case "p": policy = policyValue()
        case "sp": subdomainPolicy = policyValue()
        case "np": nonexistentPolicy = policyValue()
        case "adkim": dkimAlignment = alignment()
        case "aspf": spfAlignment = alignment()
        case "t":
            switch value.lowercased() {
            case "y": testing = true
            case "n": testing = false
            default: problems.append("t=\(Printable.escaped(value, limit: 20)) is not y or n; receivers use n")
            }
        case "psd":
            if let p = PublicSuffix(rawValue: value.lowercased()) {
                publicSuffix = p
            } else {
                problems.append("psd=\(Printable.escaped(value, limit: 20)) is not y, n or u; receivers use u")
            }
        case "rua": aggregateReports = uris(value, tag: name)
        case "ruf": failureReports = uris(value, tag: name)
        case "fo":
            let options = value.split(separator: ":").map { $0.trimmingSpaces }
            if !options.allSatisfy({ ["0", "1", "d", "s"].contains($0.lowercased()) }) {
                problems.append("fo=\(Printable.escaped(value, limit: 40)) is not a list of 0, 1, d and s "
                    + "separated by \":\"")
            }
        case "pct", "rf", "ri":
            removedTags.append((name, value))
        case "v":
            problems.append("v= appears again after the start")
        default:
            unknownTags.append(name)
        }
    }

    /// `rua`/`ruf`: comma-separated URIs; `!size` suffixes are obsolete and ignored.
    private mutating func uris(_ value: String, tag: String) -> [String] {
        var out: [String] = []
        for raw in value.split(separator: ",") {
            var uri = raw.trimmingSpaces
            if let bang = uri.firstIndex(of: "!") { uri = String(uri[..<bang]) }
            let lower = uri.lowercased()
            if lower.hasPrefix("mailto:"), uri.dropFirst(7).contains("@") {
                out.append(uri)
            } else if let colon = uri.firstIndex(of: ":"), colon > uri.startIndex,
                      uri[..<colon].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }) {
                out.append(uri)
            } else {
                problems.append("\(tag)=\(Printable.escaped(String(raw), limit: 60)) is not a URI; write "
                    + "mailto:address@example.com")
            }
        }
        return out
    }

    /// The domains `rua`/`ruf` mailto: addresses are at.
    public var reportDomains: [String] {
        (aggregateReports + failureReports).compactMap { uri in
            guard uri.lowercased().hasPrefix("mailto:"), let at = uri.lastIndex(of: "@") else { return nil }
            let domain = uri[uri.index(after: at)...].prefix { $0 != "?" && $0 != ">" }
            return domain.lowercased()
        }
    }
}
