/// OpenDKIM's SigningTable: which KeyTable entries sign mail from which author addresses.
///
/// Plain tables are looked up by `user@domain`, then `domain` (and parent domains with
/// SubDomains); `refile:` tables hold patterns with `*` wildcards, tried in file order.
public struct SigningTable: Sendable {
    struct Rule: Sendable {
        var pattern: String
        var keyNames: [String]
    }

    var rules: [Rule]
    var isPattern: Bool

    public init(parsing text: String, isPattern: Bool, source: String) throws(ConfigurationError) {
        var rules: [Rule] = []
        for entry in TableLines.entries(text) {
            let (n, line, parts) = (entry.number, entry.text, entry.words)
            guard parts.count >= 2 else {
                throw ConfigurationError("\(source):\(n): expected \"ADDRESS-PATTERN KEY-NAME\", found \"\(line)\"")
            }
            let names = parts[1...].joined(separator: ",").split(separator: ",").map(String.init)
            rules.append(Rule(pattern: parts[0].lowercased(), keyNames: names))
        }
        self.rules = rules
        self.isPattern = isPattern
    }

    /// The KeyTable names for an author address (lower case), first match first.
    public func keyNames(for address: String, subDomains: Bool, all: Bool) -> [String] {
        let address = address.lowercased()
        var found: [String] = []
        if isPattern {
            for rule in rules where Self.glob(rule.pattern, matches: address) {
                found.append(contentsOf: rule.keyNames)
                if !all { break }
            }
            return found
        }
        var candidates = [address]
        if let at = address.lastIndex(of: "@") {
            var domain = String(address[address.index(after: at)...])
            candidates.append(domain)
            while subDomains, let dot = domain.firstIndex(of: ".") {
                domain = String(domain[domain.index(after: dot)...])
                if domain.contains(".") { candidates.append(domain) }
            }
        }
        for c in candidates {
            for rule in rules where rule.pattern == c {
                found.append(contentsOf: rule.keyNames)
                if !all { return found }
            }
        }
        return found
    }

    /// `*` matches any run of characters; everything else literally.
    static func glob(_ pattern: String, matches text: String) -> Bool {
        let p = Array(pattern), t = Array(text)
        var pi = 0, ti = 0, star = -1, mark = 0
        while ti < t.count {
            if pi < p.count && (p[pi] == t[ti]) { pi += 1; ti += 1 }
            else if pi < p.count && p[pi] == "*" { star = pi; mark = ti; pi += 1 }
            else if star >= 0 { pi = star + 1; mark += 1; ti = mark }
            else { return false }
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}
