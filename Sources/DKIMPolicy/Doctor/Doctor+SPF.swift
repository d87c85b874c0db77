import DKIM

extension Doctor {
    struct SPFOutcome {
        var findings: [DoctorFinding] = []
        var state: PartState = .missing
        /// Whether SPF can give an aligned pass (a usable record that authorizes the relay, if any).
        var mayAlign = false
    }

    /// The most relay addresses checked, and the most MX hosts of a relay looked up.
    static let maximumRelayAddresses = 8
    static let maximumRelayExchanges = 4

    /// The SPF record of the domain (RFC 7208): one v=spf1 record, its syntax, the 10-lookup and
    /// 2-void-lookup limits counted over the whole tree, how it ends (`all`), `ptr`; whether the
    /// relay's addresses are authorized (check_host() for each), with the exact `include:` to add;
    /// and whether SPF can align when the relay rewrites the envelope sender.
    func spfFindings(resolver: any DNSResolver, relayResolver: any DNSResolver, policy: DMARCRecord?,
                     walks: TreeWalks, dkimAligned: Bool) -> SPFOutcome {
        var out = SPFOutcome()
        func add(_ check: String, _ status: DoctorFinding.Status, _ message: String, subject: String? = nil,
                 details: [String] = [], publish: DoctorFinding.Record? = nil) {
            out.findings.append(DoctorFinding(.spf, check, status, message, subject: subject, details: details,
                                              publish: publish))
        }

        // The record.
        var record: String?
        var usable = false
        switch resolver.lookup(domain, type: .txt) {
        case .temporaryFailure(let failure):
            add("record", .fail, "temperror: the DNS lookup of TXT \(domain) failed (\(failure)), so SPF could not be "
                + "checked. Fix: try again later; if it keeps failing, check the name servers of \(domain)")
            out.state = .unknown
            return out
        case .noData, .nameNotFound:
            break
        case .answer(let answer):
            let texts = answer.records.compactMap { r -> String? in if case .txt(let t) = r { t } else { nil } }
            let spf = texts.filter(SPFRecord.isSPFRecord)
            let nearly = texts.filter { !SPFRecord.isSPFRecord($0) && $0.lowercased().contains("v=spf1") }
            if spf.count > 1 {
                add("several-records", .fail, "\(domain) has \(spf.count) SPF records: receivers give permerror "
                    + "(RFC 7208 §4.5), which fails SPF everywhere. Fix: merge them into one record: keep one "
                    + "v=spf1 and every mechanism of both before a single -all",
                    details: spf.map { "\"\($0)\"" },
                    publish: DoctorFinding.Record(name: domain, value: Self.merged(spf)))
                out.findings += relayFindings(record: nil, relayResolver: relayResolver, mergedFrom: spf).findings
                return out
            }
            record = spf.first
            if record == nil, let near = nearly.first {
                add("syntax", .fail, "the TXT record \"\(near)\" looks like SPF but does not start with v=spf1 "
                    + "followed by a space, so receivers ignore it (RFC 7208 §4.5). Fix: write v=spf1 first, terms "
                    + "separated by single spaces, and no quotes inside the value")
            }
        }

        // The relay, first: its include: goes into the record to propose.
        let relay = relayFindings(record: record, relayResolver: relayResolver, mergedFrom: nil)

        guard let record else {
            let proposal = relay.proposal ?? "v=spf1 mx -all"
            add("record", .fail, "no SPF record at \(domain): receivers get SPF none, and Gmail, Yahoo and Microsoft "
                + "require SPF from bulk senders. Fix: publish this TXT record"
                + (relay.proposal == nil
                   ? " (mx covers the servers in your MX records; add ip4:ADDRESS for every other server that "
                     + "sends your mail)"
                   : " (add a, mx or ip4: terms for other servers that send your mail)"),
                publish: DoctorFinding.Record(name: domain, value: proposal))
            out.findings += relay.findings
            return out
        }
        if record.utf8.count > 450 {
            add("record", .warn, "\(domain): a record of \(record.utf8.count) bytes: \"\(record.prefix(200))…\". RFC "
                + "7208 §3.4 asks records to fit a 512-byte DNS answer; larger ones need TCP, which some receivers do "
                + "not try. Fix: move terms into include: records of your own (e.g. _spf.\(domain))")
        } else {
            add("record", .ok, "\(domain): \"\(record)\"")
        }

        // The whole tree, counted without stopping at the limits (they are judged below).
        var counting = SPFEvaluator.Limits()
        counting.dnsLookups = 40
        counting.voidLookups = 40
        let walk = SPFEvaluator(resolver: resolver, limits: counting).checkHost(nil, domain: domain)
        let tree = walk.trace.lines(escape: { $0 })
        usable = true
        let isSyntax = walk.reason.hasPrefix("the SPF record of \(domain) cannot be read")
        if walk.result == .temperror {
            add("lookups", .fail, "temperror: \(walk.reason); the tree could not be walked. Fix: try again later",
                details: tree)
            out.state = .unknown
            usable = false
        } else if isSyntax {
            add("syntax", .fail, "receivers cannot read the record: \(walk.trace.note ?? walk.reason). SPF gives "
                + "permerror everywhere. Fix: correct that term")
            usable = false
        } else {
            let n = walk.lookups
            let voids = walk.voidLookups
            let counts = "\(n) of 10 DNS lookups (include, a, mx, ptr, exists, redirect), \(voids) of 2 void lookups"
            if n > 10 {
                add("lookups", .fail, "\(counts): receivers stop at the 11th and give permerror (RFC 7208 §4.6.4), so "
                    + "SPF fails everywhere. Fix: remove include: terms you no longer use, or replace a and mx terms "
                    + "by ip4:/ip6: addresses", details: tree)
                usable = false
            } else if voids > 2 {
                add("void-lookups", .fail, "\(counts): more than 2 terms name domains with no records, and receivers "
                    + "give permerror (RFC 7208 §4.6.4). Fix: remove the terms marked void below", details: tree)
                usable = false
            } else {
                add("lookups", n >= 9 ? .warn : .ok, counts + (n >= 9 ? ": close to the limit of 10; one more include: "
                    + "and SPF fails everywhere" : ""), details: tree)
            }
            if walk.reason.contains("loops back") {
                add("loop", .fail, "\(walk.reason): receivers give permerror, which fails SPF everywhere. Fix: remove "
                    + "the include: or redirect= that points back")
                usable = false
            } else if walk.result == .permerror && !walk.reason.contains("more than") {
                add("evaluation", .fail, "receivers give permerror: \(walk.reason). Fix: correct the record")
                usable = false
            }
        }

        // How it ends, and ptr.
        if let parsed = try? SPFRecord(parsing: record) {
            switch parsed.allQualifier {
            case .pass?:
                add("all", .fail, "+all authorizes every address on the Internet to send as \(domain), so SPF proves "
                    + "nothing. Fix: end the record with -all (or ~all while you check)")
                usable = false
            case .neutral?:
                add("all", .warn, "?all: servers not listed get neutral, which receivers treat like no SPF. Fix: end "
                    + "with -all (or ~all)")
            case .fail?, .softfail?:
                add("all", .ok, "\(parsed.allQualifier == .fail ? "-all" : "~all"): servers not listed "
                    + "\(parsed.allQualifier == .fail ? "fail" : "softfail")")
            case nil where parsed.redirect == nil:
                add("all", .warn, "the record has no all: servers not listed get neutral. Fix: end it with -all "
                    + "(or ~all)")
            case nil:
                break
            }
        }
        if Self.hasPTR(walk.trace) {
            add("ptr", .warn, "ptr is discouraged (RFC 7208 §5.5): it is slow, makes many queries and often fails at "
                + "large receivers. Fix: replace it with ip4:/ip6: or a: terms for your servers")
        }

        out.findings += relay.findings
        if out.state != .unknown {
            out.state = usable && relay.authorized ? .ok : relay.unknown ? .unknown : .missing
        }
        out.mayAlign = usable && relay.authorized

        // SPF alignment when a relay is in the path.
        if !relays.isEmpty {
            let mode = policy?.spfAlignment ?? .relaxed
            let strictNote = mode == .strict ? " The DMARC record asks for strict SPF alignment (aspf=s): the envelope "
                + "sender must be exactly @\(domain)." : ""
            let rewrite = "If the relay rewrites the envelope sender (MAIL FROM) to an address of its own (many ISP "
                + "relays and forwarders do: see Return-Path in a received message, or smtp.mailfrom in the "
                + "receiver's Authentication-Results), SPF is checked for the relay's domain and cannot align with "
                + "\(domain), and DMARC rests on DKIM alone.\(strictNote)"
            if dkimAligned {
                add("alignment", .ok, "\(rewrite) Your DKIM signature is aligned, so DMARC passes either way.")
            } else if relay.authorized {
                add("alignment", .warn, "\(rewrite) No aligned DKIM key was found, so mail passes DMARC only while the "
                    + "relay keeps your envelope sender. Fix: sign with a key for d=\(domain)")
            } else {
                add("alignment", .fail, "SPF cannot pass for mail through the relay (see relay), and no aligned DKIM "
                    + "key was found, so DMARC fails. \(rewrite) Fix: sign with a key for d=\(domain); authorize the "
                    + "relay")
            }
        }
        return out
    }

    struct RelayOutcome {
        var findings: [DoctorFinding] = []
        /// Whether every relay address is authorized (true without a relay).
        var authorized = true
        /// The record to publish with the relay authorized.
        var proposal: String?
        /// Whether a DNS failure left the answer unknown.
        var unknown = false
    }

    /// check_host() for each address of each relay; for one that fails, the `include:` of the
    /// relay's own domain that authorizes it (or its addresses), and the record with it.
    func relayFindings(record: String?, relayResolver: any DNSResolver, mergedFrom: [String]?) -> RelayOutcome {
        var out = RelayOutcome()
        guard !relays.isEmpty else { return out }
        let evaluator = SPFEvaluator(resolver: relayResolver)
        var current = record ?? mergedFrom.map(Self.merged)
        for relay in relays {
            let (addresses, problem) = relayAddresses(relay, relayResolver)
            let subject = relay.description
            guard !addresses.isEmpty else {
                out.authorized = false
                if problem?.hasPrefix("could not be looked up") == true { out.unknown = true }
                out.findings.append(DoctorFinding(.spf, "relay", .fail,
                    "the relay \(relay) (from \(relaySource)) " + (problem ?? "has no address")
                    + ", so whether SPF authorizes it is unknown. Fix: check the name", subject: subject))
                continue
            }
            let list = addresses.map(\.description).joined(separator: ", ")
            let results = addresses.map { ip in
                (ip, evaluator.checkHost(ip, domain: domain, sender: "postmaster@\(domain)", helo: relay.host))
            }
            let failing = results.filter { $0.1.result != .pass }
            if failing.isEmpty {
                out.findings.append(DoctorFinding(.spf, "relay", .ok,
                    "the relay \(relay) (\(list)) is authorized: check_host() gives pass for "
                    + (addresses.count == 1 ? "it" : "each") + " (\(results[0].1.reason))", subject: subject))
                continue
            }
            out.authorized = false
            if failing.contains(where: { $0.1.result == .temperror }) {
                out.unknown = true
                let why = failing.first { $0.1.result == .temperror }!.1.reason
                out.findings.append(DoctorFinding(.spf, "relay", .fail,
                    "temperror: whether \(domain)'s SPF authorizes the relay \(relay) (\(list)) is unknown: \(why). "
                    + "Fix: try again later", subject: subject))
                continue
            }
            let words = failing.map { "\($0.0) gives \($0.1.result.rawValue)" }.joined(separator: ", ")
            let reason = failing[0].1.reason
            // The relay's own domain that authorizes every address: the include: to add.
            let include = includeCandidate(for: relay, addresses: addresses, evaluator: evaluator)
            let term = include.map { "include:\($0)" }
                ?? addresses.map { ($0.isIPv6 ? "ip6:" : "ip4:") + $0.description }.joined(separator: " ")
            let proposal = Self.inserting(term, into: current)
            let check = SPFEvaluator(resolver: relayResolver).checkHost(nil, domain: domain, record: proposal)
            let passes = addresses.allSatisfy {
                SPFEvaluator(resolver: relayResolver).checkHost($0, domain: domain, sender: "postmaster@\(domain)",
                                                                helo: relay.host, record: proposal).result == .pass
            }
            var details = ["with it: \(check.lookups) of 10 DNS lookups; check_host() gives "
                + (passes ? "pass" : "still no pass") + " for \(list)"]
            if check.lookups > 10 { details.append("that is over the limit of 10: remove other include: terms first") }
            let why = include.map { "the SPF record of \($0) authorizes \(list)" }
                ?? "no SPF record of the relay's domain authorizes \(list): ask your provider which include: they "
                   + "document; until then the addresses themselves authorize it"
            out.findings.append(DoctorFinding(.spf, "relay", .fail,
                "the relay \(relay) (from \(relaySource)) is not authorized by the SPF record of \(domain): "
                + "check_host() \(words) (\(reason)). Receivers see your mail arrive from the relay, so it fails SPF. "
                + "Fix: add \(term) to the SPF record of \(domain) (\(why))",
                subject: subject, details: details, publish: DoctorFinding.Record(name: domain, value: proposal)))
            out.proposal = proposal
            current = proposal
        }
        return out
    }

    /// The relay's addresses (at most 8): an address as given; `[host]` and `--relay` by A and
    /// AAAA; a Postfix name without brackets by its MX hosts first, as Postfix delivers.
    func relayAddresses(_ relay: RelayHost, _ resolver: any DNSResolver) -> ([IPAddress], String?) {
        if let ip = relay.address { return ([ip], nil) }
        var hosts = [relay.host]
        if relay.looksUpMX, case .answer(let a) = resolver.lookup(relay.host, type: .mx) {
            let exchanges = a.records.compactMap { r -> (UInt16, String)? in
                if case .mx(let p, let e) = r { (p, SPFEvaluator.normalized(e)) } else { nil }
            }.sorted { $0.0 < $1.0 }.map(\.1).filter { !$0.isEmpty }
            if !exchanges.isEmpty { hosts = Array(exchanges.prefix(Self.maximumRelayExchanges)) }
        }
        var addresses: [IPAddress] = []
        var problem: String?
        for host in hosts {
            for type in [DNSRecordType.a, .aaaa] {
                switch resolver.lookup(host, type: type) {
                case .answer(let answer):
                    for r in answer.records {
                        if case .a(let b) = r, let ip = IPAddress(bytes: b) { addresses.append(ip) }
                        if case .aaaa(let b) = r, let ip = IPAddress(bytes: b) { addresses.append(ip) }
                    }
                case .nameNotFound: problem = problem ?? "does not exist (NXDOMAIN for \(host))"
                case .noData: break
                case .temporaryFailure(let f): problem = "could not be looked up (\(host): \(f))"
                }
            }
        }
        var seen = Set<IPAddress>()
        let unique = addresses.filter { seen.insert($0).inserted }
        let why = unique.isEmpty ? (problem ?? "has no address (A or AAAA)") : nil
        return (Array(unique.prefix(Self.maximumRelayAddresses)), why)
    }

    /// The shortest name of the relay's host (its parents down to the host itself, at least two
    /// labels) whose SPF record passes every address: what its operator asks customers to include.
    func includeCandidate(for relay: RelayHost, addresses: [IPAddress], evaluator: SPFEvaluator) -> String? {
        guard relay.address == nil else { return nil }
        let candidates = (Self.parents(of: relay.host).reversed() + [relay.host]).filter { $0.contains(".") }
        for candidate in candidates.prefix(4) where candidate != domain {
            if addresses.allSatisfy({ evaluator.checkHost($0, domain: candidate, helo: relay.host).result == .pass }) {
                return candidate
            }
        }
        return nil
    }

    /// The record with `term` added before its `all` (or `redirect=`), or a new record.
    static func inserting(_ term: String, into record: String?) -> String {
        guard let record else { return "v=spf1 \(term) -all" }
        var terms = record.split(separator: " ").map(String.init)
        let index = terms.firstIndex { t in
            let name = t.drop { "+-~?".contains($0) }.lowercased()
            return name == "all" || name.hasPrefix("redirect=")
        } ?? terms.count
        terms.insert(term, at: max(index, 1))
        return terms.joined(separator: " ")
    }

    /// Several SPF records merged into one: v=spf1, every term but `all` once, then the strictest `all`.
    static func merged(_ records: [String]) -> String {
        var terms: [String] = []
        var all: String?
        for r in records {
            for t in r.split(separator: " ").dropFirst().map(String.init) {
                let name = t.drop { "+-~?".contains($0) }.lowercased()
                if name == "all" {
                    if all == nil || t.hasPrefix("-") { all = t }
                } else if !terms.contains(t) {
                    terms.append(t)
                }
            }
        }
        return (["v=spf1"] + terms + [all ?? "~all"]).joined(separator: " ")
    }

    static func hasPTR(_ trace: SPFTrace) -> Bool {
        trace.terms.contains { t in
            t.text.drop(while: { "+-~?".contains($0) }).lowercased().hasPrefix("ptr")
                || t.children.contains(where: hasPTR)
        }
    }
}
