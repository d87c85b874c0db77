import DKIM

/// The DNS Tree Walk of RFC 9989, which replaces RFC 7489's public suffix list: `_dmarc.` TXT
/// records are looked up from a domain towards the root, one label at a time, except that a name
/// of 8 or more labels jumps to its last 7 after the first query, so a walk makes at most 8 queries.
/// The walk stops at a record saying `psd=n` (an organizational domain), at one saying `psd=y`
/// (a public suffix domain) other than the first, at a DNS failure, or at the top label.
///
/// At each name only a single record starting with `v=DMARC1` counts; several are all discarded.
public struct DMARCTreeWalk: Sendable {
    /// What one name of the walk held.
    public enum Found: Sendable, Equatable {
        /// No DMARC record (NXDOMAIN, no TXT records, or only other TXT records).
        case none
        case record(DMARCRecord)
        /// Several DMARC records: all discarded.
        case several([String])
        case failed(DNSFailure)
    }

    public struct Step: Sendable, Equatable {
        /// The domain (the query was for `_dmarc.` + it).
        public var domain: String
        public var found: Found

        public var record: DMARCRecord? {
            if case .record(let r) = found { r } else { nil }
        }
    }

    /// At most this many queries per walk.
    public static let maximumQueries = 8

    /// The domain the walk started at.
    public let start: String
    public let steps: [Step]

    /// The DNS failure that ended the walk early, if any.
    public var failure: DNSFailure? {
        for s in steps { if case .failed(let f) = s.found { return f } }
        return nil
    }

    /// Walks from `domain`.
    public init(from domain: String, resolver: any DNSResolver) {
        let start = SPFEvaluator.normalized(domain)
        self.start = start
        var steps: [Step] = []
        var labels = start.split(separator: ".").map(String.init)
        var first = true
        while !labels.isEmpty && steps.count < Self.maximumQueries {
            let name = labels.joined(separator: ".")
            let found = Self.lookup(name, resolver: resolver)
            steps.append(Step(domain: name, found: found))
            if case .failed = found { break }
            if case .record(let r) = found {
                if r.publicSuffix == .no { break }
                if r.publicSuffix == .yes && !first { break }
            }
            // The next target: one label less, or the last 7 labels of a name of 8 or more.
            if labels.count >= 8 { labels = Array(labels.suffix(7)) } else { labels.removeFirst() }
            first = false
        }
        self.steps = steps
    }

    /// The DMARC records at `_dmarc.NAME`.
    static func lookup(_ name: String, resolver: any DNSResolver) -> Found {
        switch resolver.lookup("_dmarc." + name, type: .txt) {
        case .temporaryFailure(let f): return .failed(f)
        case .noData, .nameNotFound: return .none
        case .answer(let answer):
            let texts = answer.records.compactMap { r -> String? in if case .txt(let t) = r { t } else { nil } }
            let dmarc = texts.filter(DMARCRecord.isDMARCRecord)
            if dmarc.count > 1 { return .several(dmarc) }
            return dmarc.first.flatMap(DMARCRecord.init(parsing:)).map(Found.record) ?? .none
        }
    }

    /// The organizational domain (RFC 9989, "Determining the Organizational Domain"): the domain
    /// of a record with `psd=n`; else the domain one label below a record with `psd=y` (not the
    /// walk's first); else the domain with the fewest labels that holds a record; else, with no
    /// record at all, the start domain itself.
    public var organizationalDomain: String {
        for (i, step) in steps.enumerated() {
            guard let record = step.record else { continue }
            if record.publicSuffix == .no { return step.domain }
            if record.publicSuffix == .yes && i > 0 {
                return Self.child(of: step.domain, toward: start)
            }
        }
        return steps.last { $0.record != nil }?.domain ?? start
    }

    /// The record with `psd=y` the walk found above the start, if any.
    public var publicSuffixStep: Step? {
        steps.dropFirst().first { $0.record?.publicSuffix == .yes }
    }

    /// The name one label longer than `parent` on the way to `start`.
    static func child(of parent: String, toward start: String) -> String {
        let labels = start.split(separator: ".")
        let parentCount = parent.split(separator: ".").count
        return labels.suffix(min(labels.count, parentCount + 1)).joined(separator: ".")
    }

    /// The policy that applies to mail from the start domain: the record at the start domain, else
    /// the one at its organizational domain, else that of a public suffix domain (`psd=y`) above
    /// it. Nil when there is none (or the walk failed before one was found: see `failure`).
    public var policyStep: Step? {
        if let first = steps.first, first.domain == start, first.record != nil { return first }
        let org = organizationalDomain
        if let step = steps.first(where: { $0.domain == org && $0.record != nil }) { return step }
        return publicSuffixStep
    }

    /// The policy a receiver applies to mail from the start domain, and the tag it comes from:
    /// `p` at the start domain (and, for a public suffix record, at the organizational domain
    /// below it); below that, `np` when the start domain does not exist, else `sp`, each falling
    /// back to `p`. Nil without a policy record.
    public func appliedPolicy(startExists: Bool = true) -> (policy: DMARCRecord.Policy, tag: String)? {
        guard let step = policyStep, let record = step.record else { return nil }
        let p = record.policy ?? .none
        if step.domain == start { return (p, "p") }
        if step.record?.publicSuffix == .yes && organizationalDomain == start && startExists { return (p, "p") }
        if !startExists, let np = record.nonexistentPolicy { return (np, "np") }
        if let sp = record.subdomainPolicy { return (sp, "sp") }
        return (p, "p")
    }
}
