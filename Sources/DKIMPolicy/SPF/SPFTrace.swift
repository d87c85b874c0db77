/// What one check_host() evaluation looked at: each domain's record and, under it, each term with
/// the DNS lookups it counted (RFC 7208 §4.6.4) and what DNS answered; `include:` and
/// `redirect=` have the evaluation of their domain under them.
public struct SPFTrace: Sendable, Equatable {
    public struct Term: Sendable, Equatable {
        /// The term as written.
        public var text: String
        /// 1 when the term counts toward the limit of 10 DNS lookups (§4.6.4), else 0.
        public var lookups: Int
        /// Lookups that found nothing (NXDOMAIN or no records: void lookups, §4.6.4).
        public var voidLookups: Int
        /// What DNS answered, in words ("A mail.example.com: 192.0.2.25").
        public var detail: String?
        /// Whether this term decided the result.
        public var matched: Bool
        /// The evaluation of an `include:` or `redirect=` domain (at most one element).
        public var children: [SPFTrace]

        public init(text: String, lookups: Int = 0, voidLookups: Int = 0, detail: String? = nil, matched: Bool = false,
                    children: [SPFTrace] = []) {
            self.text = text
            self.lookups = lookups
            self.voidLookups = voidLookups
            self.detail = detail
            self.matched = matched
            self.children = children
        }
    }

    public var domain: String
    /// The SPF record found (or given), nil when there is none.
    public var record: String?
    /// Why evaluation stopped here, or what was odd ("no SPF record", "2 SPF records", …).
    public var note: String?
    public var terms: [Term]

    public init(domain: String, record: String? = nil, note: String? = nil, terms: [Term] = []) {
        self.domain = domain
        self.record = record
        self.note = note
        self.terms = terms
    }

    /// The DNS lookups counted here and under every include and redirect.
    public var totalLookups: Int {
        terms.reduce(0) { $0 + $1.lookups + $1.children.reduce(0) { $0 + $1.totalLookups } }
    }

    /// The void lookups here and below.
    public var totalVoidLookups: Int {
        terms.reduce(0) { $0 + $1.voidLookups + $1.children.reduce(0) { $0 + $1.totalVoidLookups } }
    }

    /// The tree as indented lines: each domain with its record and lookup count, each term that
    /// made a query or matched with what DNS said. `escape` makes DNS text printable.
    public func lines(indent: String = "", escape: (String) -> String) -> [String] {
        var out: [String] = []
        let count = totalLookups
        let shown = record.map { $0.count > 300 ? String($0.prefix(300)) + "…" : $0 }
        let head = "\(escape(domain)): " + (shown.map { "\"\(escape($0))\"" } ?? "no record")
            + " (\(count) lookup\(count == 1 ? "" : "s"))" + (note.map { " — \(escape($0))" } ?? "")
        out.append(indent + head)
        for t in terms where t.lookups > 0 || t.matched || t.detail != nil || !t.children.isEmpty {
            var line = indent + "  " + escape(t.text)
            if let detail = t.detail { line += ": " + escape(detail) }
            if t.voidLookups > 0 { line += " [void lookup\(t.voidLookups == 1 ? "" : "s"): \(t.voidLookups)]" }
            if t.matched { line += " ← matched" }
            out.append(line)
            for child in t.children { out += child.lines(indent: indent + "    ", escape: escape) }
        }
        return out
    }
}
