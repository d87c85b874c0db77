import DKIM

extension Doctor {
    struct DMARCOutcome {
        var findings: [DoctorFinding] = []
        /// The record whose policy applies to the domain (its own, its organization's, or a public suffix's).
        var policy: DMARCRecord?
        var state: PartState = .missing
    }

    /// The DMARC policy of the domain (RFC 9989): found by the tree walk, its syntax and tags, the
    /// policy and where it comes from, reports, and records published at a wrong name.
    func dmarcFindings(walks: TreeWalks, resolver: any DNSResolver) -> DMARCOutcome {
        var out = DMARCOutcome()
        func add(_ check: String, _ status: DoctorFinding.Status, _ message: String, details: [String] = [],
                 publish: DoctorFinding.Record? = nil) {
            out.findings.append(DoctorFinding(.dmarc, check, status, message, details: details, publish: publish))
        }
        let walk = walks.walk(domain)
        let name = "_dmarc." + domain
        let suggestion = DoctorFinding.Record(name: name, value: "v=DMARC1; p=none; rua=mailto:dmarc-reports@\(domain)")
        let steps = walk.steps.map { "_dmarc.\($0.domain): " + Self.describe($0.found) }

        var severalHere = false
        if case .several(let list)? = walk.steps.first?.found, walk.steps.first?.domain == domain {
            severalHere = true
            add("several-records", .fail,
                "\(name) holds \(list.count) DMARC records; receivers discard them all (RFC 9989), so the domain has "
                + "no DMARC policy of its own. Fix: delete all but one", details: list.map { "\"\($0)\"" })
        }
        guard let step = walk.policyStep, let record = step.record else {
            if let failure = walk.failure {
                add("record", .fail, "temperror: the DMARC policy of \(domain) is unknown, because the DNS lookup of "
                    + "TXT _dmarc.\(walk.steps.last?.domain ?? domain) failed (\(failure)). Fix: try again later; if "
                    + "it keeps failing, check the name servers of \(domain)", details: steps)
                out.state = .unknown
                return out
            }
            if severalHere { return out }
            out.findings += misplacedRecords(resolver: resolver)
            add("record", .fail,
                "no DMARC record at \(name), nor above it (the tree walk of RFC 9989 looked up "
                + walk.steps.map { "_dmarc.\($0.domain)" }.joined(separator: ", ") + "). Gmail, Yahoo and Microsoft "
                + "require one from bulk senders (p=none is enough to start). Fix: publish this TXT record",
                publish: suggestion)
            return out
        }
        out.policy = record
        out.state = .ok
        let org = walk.organizationalDomain
        let quoted = "\"\(record.text)\""
        if step.domain == domain {
            add("record", .ok, "\(name): \(quoted)")
        } else if record.publicSuffix == .yes && step.domain != org {
            out.state = .missing
            add("record", .warn,
                "no DMARC record of your own at \(name). The tree walk found \(step.domain), a public suffix domain "
                + "(psd=y), whose operator's policy applies to \(domain): \(quoted). Gmail, Yahoo and Microsoft "
                + "ask for a record of your own. Fix: publish this TXT record", details: steps, publish: suggestion)
        } else {
            add("record", .ok,
                "no record at \(name); the tree walk found that of the organizational domain \(org) at "
                + "_dmarc.\(step.domain): \(quoted), which covers \(domain)", details: steps)
        }

        // The tags.
        for problem in record.problems {
            let serious = problem.contains("p= is missing") || problem.hasPrefix("p=")
                || problem.contains("appears twice")
            add("syntax", serious ? .fail : .warn, problem)
        }
        if !record.removedTags.isEmpty {
            let list = record.removedTags.map { "\($0.name)=\($0.value)" }.joined(separator: ", ")
            let pct = record.removedTags.contains { $0.name == "pct" }
                ? " To phase a policy in, use t=y (testing) instead of pct=." : ""
            add("removed-tags", .warn, "\(list): RFC 9989 removed pct, rf and ri; receivers that follow it ignore "
                + "\(record.removedTags.count == 1 ? "this tag" : "these tags").\(pct) Fix: remove "
                + "\(record.removedTags.count == 1 ? "it" : "them") from the record")
        }
        if !record.unknownTags.isEmpty {
            add("unknown-tags", .warn, record.unknownTags.map { "\($0)=" }.joined(separator: ", ")
                + " \(record.unknownTags.count == 1 ? "is not a DMARC tag" : "are not DMARC tags") and "
                + "\(record.unknownTags.count == 1 ? "is" : "are") ignored (RFC 9989). Fix: check the spelling "
                + "(p, sp, np, adkim, aspf, t, psd, rua, ruf, fo)")
        }

        // The policy that applies, and from which tag.
        let exists = step.domain == domain || record.nonexistentPolicy == nil ? true : domainExists(resolver)
        if let (policy, tag) = walk.appliedPolicy(startExists: exists) {
            let source = tag == "p" && step.domain == domain ? "p=\(policy.rawValue)"
                : "\(tag)=\(policy.rawValue) of \(step.domain)"
            switch policy {
            case .none:
                add("policy", .warn,
                    "\(source): receivers only monitor; mail that fails DMARC is delivered as usual. That meets the "
                    + "bulk sender rules of Gmail, Yahoo and Microsoft, but does not stop others from sending as "
                    + "\(domain). Fix: once the aggregate reports show your own mail passing, move to "
                    + "p=quarantine, then p=reject")
            case .quarantine, .reject:
                add("policy", .ok, "\(source): receivers \(policy == .reject ? "reject" : "quarantine") mail from "
                    + "\(domain) that fails DMARC")
            }
        }
        if record.testing {
            add("testing", .warn, "t=y: the policy is in testing mode, and receivers apply a milder one (RFC 9989). "
                + "Fix: remove t=y when you are ready")
        }
        if step.domain == domain && record.publicSuffix == .yes {
            add("psd", .warn, "psd=y says \(domain) is a public suffix domain (a registry, like a TLD): then every "
                + "name under it is an organization of its own, and mail from a subdomain no longer aligns with a "
                + "signature of \(domain). Fix: remove psd=y unless \(domain) is a registry")
        }

        // Reports.
        if record.aggregateReports.isEmpty {
            add("reports", .warn, "no rua=: nobody sends you aggregate reports, so you cannot see which mail fails "
                + "before you tighten the policy. Fix: add rua=mailto:dmarc-reports@\(domain) to the record")
        } else {
            let ours = walks.organizationalDomain(domain)
            let elsewhere = Set(record.reportDomains).sorted().filter { walks.organizationalDomain($0) != ours }
            for reportDomain in elsewhere.prefix(4) {
                // RFC 9990: a report address in another organization must publish that it accepts them.
                let authorization = "\(domain)._report._dmarc.\(reportDomain)"
                let accepts: Bool
                if case .answer(let a) = resolver.lookup(authorization, type: .txt) {
                    accepts = a.records.contains {
                        if case .txt(let t) = $0 { DMARCRecord.isDMARCRecord(t) } else { false }
                    }
                } else {
                    accepts = false
                }
                add("reports", accepts ? .ok : .warn, accepts
                    ? "reports go to \(reportDomain), which accepts them for \(domain) (\(authorization))"
                    : "reports go to \(reportDomain), another organization, which has not published "
                      + "\(authorization) TXT \"v=DMARC1\": receivers send it no reports (RFC 9990). Fix: ask "
                      + "\(reportDomain) to publish it, or send the reports to an address in \(domain)")
            }
        }
        return out
    }

    /// Where a DNS panel mistake puts a DMARC record when `_dmarc.DOMAIN` has none.
    func misplacedRecords(resolver: any DNSResolver) -> [DoctorFinding] {
        var out: [DoctorFinding] = []
        let candidates: [(String, String)] = [
            ("_dmarc.\(domain).\(domain)", "the DNS panel added .\(domain) to a name that already ended in it. "
                + "Fix: rename the record to just _dmarc (the panel adds .\(domain) itself)"),
            ("dmarc.\(domain)", "the name lacks its underscore. Fix: rename the record to _dmarc"),
            (domain, "it was published at the domain itself. Fix: move it to the name _dmarc"),
        ]
        for (name, why) in candidates {
            guard case .answer(let a) = resolver.lookup(name, type: .txt) else { continue }
            let texts = a.records.compactMap { r -> String? in if case .txt(let t) = r { t } else { nil } }
            guard let text = texts.first(where: DMARCRecord.isDMARCRecord) else { continue }
            out.append(DoctorFinding(.dmarc, "wrong-name", .fail,
                "there is a DMARC record at \(name) (\"\(text)\"), where receivers never look: \(why)",
                publish: DoctorFinding.Record(name: "_dmarc.\(domain)", value: text)))
        }
        return out
    }

    /// Whether the domain exists for DMARC's np= (RFC 9989: a domain with NXDOMAIN or no data for
    /// A, AAAA and MX does not). A failed lookup counts as existing.
    func domainExists(_ resolver: any DNSResolver) -> Bool {
        for type in [DNSRecordType.a, .aaaa, .mx] {
            switch resolver.lookup(domain, type: type) {
            case .answer, .temporaryFailure: return true
            case .noData, .nameNotFound: continue
            }
        }
        return false
    }

    static func describe(_ found: DMARCTreeWalk.Found) -> String {
        switch found {
        case .none: "none"
        case .record(let r): "\"\(r.text)\""
        case .several(let list): "\(list.count) records (all discarded)"
        case .failed(let f): "\(f)"
        }
    }
}
