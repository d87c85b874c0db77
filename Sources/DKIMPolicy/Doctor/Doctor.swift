import DKIM

/// `dkimkey doctor`: will the big receivers accept mail from a domain? DKIM, DMARC and SPF judged
/// together, each finding in plain words with its fix. Sans-I/O: the keys come as facts, DNS
/// through a `DNSResolver`, and each part has its own query budget (`Budgets`).
public struct Doctor: Sendable {
    /// The most DNS queries each part may ask (README, "dkimkey doctor": bounds).
    public enum Budgets {
        /// Per key: its record and the two names a DNS panel mistake would use.
        public static let perKey = 3
        /// At most this many keys are checked.
        public static let keys = 16
        /// Tree walks (8 queries each) for the From domain and the signing domains, the names of
        /// misplaced records, the From domain's existence, report-address authorizations.
        public static let dmarc = 60
        /// The record's worst-case evaluation (at most 122 queries) and that of a proposed record.
        public static let spf = 250
        /// The relay's addresses and check_host() for each (at most 8), and the include: to propose.
        public static let relay = 400
        /// The whole run.
        public static var total: Int { perKey * keys + dmarc + spf + relay }
    }

    /// The From domain.
    public var domain: String
    public var keys: [DKIMKeyFacts]
    public var relays: [RelayHost]
    /// Where the relay came from, in words ("--relay", "relayhost in /etc/postfix").
    public var relaySource: String
    public var resolver: any DNSResolver

    public init(domain: String, keys: [DKIMKeyFacts], relays: [RelayHost] = [], relaySource: String = "--relay",
                resolver: any DNSResolver) {
        self.domain = SPFEvaluator.normalized(domain)
        self.keys = keys
        self.relays = relays
        self.relaySource = relaySource
        self.resolver = resolver
    }

    /// Runs every check.
    public func run() -> DoctorReport {
        let dmarcDNS = QueryBudget(resolver, limit: Budgets.dmarc)
        let walks = TreeWalks(resolver: dmarcDNS)
        let dmarc = dmarcFindings(walks: walks, resolver: dmarcDNS)
        let dkim = dkimFindings(policy: dmarc.policy, walks: walks)
        let spfDNS = QueryBudget(resolver, limit: Budgets.spf)
        let relayDNS = QueryBudget(resolver, limit: Budgets.relay)
        let spf = spfFindings(resolver: spfDNS, relayResolver: relayDNS, policy: dmarc.policy, walks: walks,
                              dkimAligned: dkim.aligned)
        let findings = dkim.findings + dmarc.findings + spf.findings
        let facts = ReceiverFacts(spf: spf.state, dkim: dkim.state, dmarc: dmarc.state,
                                  dkimAligned: dkim.aligned, spfMayAlign: spf.mayAlign)
        return DoctorReport(domain: domain, findings: findings,
                            receivers: ReceiverRequirements.all.map { $0.row(facts, findings: findings) },
                            queries: dmarcDNS.used + spfDNS.used + relayDNS.used)
    }

    /// Organizational domains by tree walk, each walked once.
    final class TreeWalks: @unchecked Sendable {
        let resolver: any DNSResolver
        private var walks: [String: DMARCTreeWalk] = [:]
        init(resolver: any DNSResolver) { self.resolver = resolver }

        func walk(_ domain: String) -> DMARCTreeWalk {
            let d = SPFEvaluator.normalized(domain)
            if let w = walks[d] { return w }
            let w = DMARCTreeWalk(from: d, resolver: resolver)
            walks[d] = w
            return w
        }

        func organizationalDomain(_ domain: String) -> String { walk(domain).organizationalDomain }
    }

    /// The parent domains of a name with two labels or more: `a.b.example.com` → `b.example.com`, `example.com`.
    public static func parents(of domain: String) -> [String] {
        let labels = domain.split(separator: ".")
        guard labels.count > 2 else { return [] }
        return (1...(labels.count - 2)).map { labels[$0...].joined(separator: ".") }
    }
}
