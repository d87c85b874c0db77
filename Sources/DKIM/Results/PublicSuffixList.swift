/// The Public Suffix List (publicsuffix.org), used to find organizational domains for
/// DMARC alignment (RFC 7489 §3.2).
public struct PublicSuffixList: Sendable {
    private var rules: Set<String> = []
    private var wildcards: Set<String> = []
    private var exceptions: Set<String> = []

    /// Parses the list's text (`public_suffix_list.dat` format).
    public init(parsing text: String) {
        for raw in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let line = raw.split(separator: " ").first.map(String.init) ?? ""
            if line.isEmpty || line.hasPrefix("//") { continue }
            let rule = line.lowercased()
            if rule.hasPrefix("!") { exceptions.insert(String(rule.dropFirst())) }
            else if rule.hasPrefix("*.") { wildcards.insert(String(rule.dropFirst(2))) }
            else { rules.insert(rule) }
        }
    }

    /// A list with no rules: every domain's public suffix is its last label.
    public static let minimal = PublicSuffixList(parsing: "")

    /// The organizational domain: the public suffix plus one label.
    public func organizationalDomain(of domain: String) -> String {
        let labels = domain.lowercased().split(separator: ".").map(String.init)
        guard labels.count > 1 else { return domain.lowercased() }
        var suffixLength = 1  // the implicit "*" rule
        for i in 0..<labels.count {
            let candidate = labels[i...].joined(separator: ".")
            let n = labels.count - i
            if exceptions.contains(candidate) {
                suffixLength = n - 1
                break
            }
            if rules.contains(candidate), n > suffixLength { suffixLength = n }
            if i > 0, wildcards.contains(candidate), n + 1 > suffixLength { suffixLength = n + 1 }
        }
        let take = min(labels.count, suffixLength + 1)
        return labels.suffix(take).joined(separator: ".")
    }

    /// DMARC relaxed alignment (RFC 7489 §3.1.1): the two domains share an organizational domain.
    public func isRelaxedAligned(_ a: String, _ b: String) -> Bool {
        organizationalDomain(of: a) == organizationalDomain(of: b)
    }
}
