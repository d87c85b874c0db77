import DKIM

extension Doctor {
    struct DKIMOutcome {
        var findings: [DoctorFinding] = []
        var state: PartState = .missing
        /// Whether an RSA key with a published record signs with a d= aligned with the From domain.
        var aligned = false
    }

    /// The keys of the domain: each published record judged as `dkimkey check` does, the RSA key
    /// the big receivers need (RFC 8301 §3.2: at least 1024 bits, 2048 advised; Gmail, Yahoo and
    /// Microsoft do not count Ed25519 signatures), the keys' age, and their alignment with the
    /// From domain (RFC 9989, "Identifier Alignment").
    func dkimFindings(policy: DMARCRecord?, walks: TreeWalks) -> DKIMOutcome {
        var out = DKIMOutcome()
        func add(_ check: String, _ status: DoctorFinding.Status, _ message: String, subject: String? = nil,
                 publish: DoctorFinding.Record? = nil) {
            out.findings.append(DoctorFinding(.dkim, check, status, message, subject: subject, publish: publish))
        }
        guard !keys.isEmpty else {
            add("keys", .fail, "no DKIM key for \(domain): none in the key store (KEYS-DIR/\(domain)/SELECTOR.pem, "
                + "or a parent domain's folder) and none named with --selector. Receivers see unsigned mail, which "
                + "Gmail, Yahoo and Microsoft refuse from bulk senders. Fix: dkimkey generate mail2026 --domain "
                + "\(domain), publish the record it prints, and sign with it")
            return out
        }
        for key in keys {
            let problems = key.checks.filter { $0.status != .ok }
            if key.published && problems.isEmpty {
                let size = key.keyType.map { $0 == .rsa ? "RSA, \(key.bits ?? 0) bits" : "Ed25519" } ?? "key"
                add("key", .ok, "\(key.queryName): the published record matches \(key.keyPath) (\(size))",
                    subject: key.queryName)
                continue
            }
            var offered = false
            for check in problems {
                var publish: DoctorFinding.Record?
                if check.status == .fail, !offered, let record = key.correctRecord {
                    publish = DoctorFinding.Record(name: key.queryName, value: record)
                    offered = true
                }
                add(check.check, check.status, "\(key.queryName): \(check.message)", subject: key.queryName,
                    publish: publish)
            }
        }

        let usable = keys.filter(\.published)
        let rsa = usable.filter { $0.keyType == .rsa }.sorted { ($0.bits ?? 0) > ($1.bits ?? 0) }
        if let best = rsa.first, let bits = best.bits {
            if bits >= 2048 {
                add("rsa", .ok, "an RSA key of \(bits) bits (\(best.selector)): what Gmail, Yahoo and Microsoft verify")
                out.state = .ok
            } else if bits >= 1024 {
                add("rsa", .warn, "the largest RSA key has \(bits) bits (\(best.selector)): accepted, but RFC 8301 and "
                    + "Gmail advise 2048. Fix: make a 2048-bit key under a new selector (dkimkey generate NEWSELECTOR "
                    + "--domain \(best.domain)), publish it, then sign with it")
                out.state = .ok
            } else {
                add("rsa", .fail, "the largest RSA key has \(bits) bits (\(best.selector)): receivers ignore RSA keys "
                    + "below 1024 bits (RFC 8301). Fix: make a 2048-bit key under a new selector (dkimkey generate "
                    + "NEWSELECTOR --domain \(best.domain)) and publish it")
            }
        } else if usable.contains(where: { $0.keyType == .ed25519 }) {
            add("ed25519-only", .fail, "only Ed25519 keys are published: Gmail, Yahoo and Microsoft do not count "
                + "Ed25519 signatures, so to them your mail is unsigned. Fix: add an RSA key and sign with both "
                + "(dkimkey generate rsa2026 --domain \(domain))")
        } else {
            add("rsa", .fail, "no key of \(domain) has a published record that matches it, so receivers cannot verify "
                + "any signature. Fix: publish the record of a key (see the lines above)")
        }

        for key in keys {
            if let days = key.ageDays, days > 180 {
                add("age", .warn, "\(key.keyPath) is \(days) days old: rotate keys at least every 6 months (M3AAWG). "
                    + "Fix: dkimkey rotate --domain \(key.domain) makes a successor under a new selector, publishes "
                    + "it before it signs, keeps the old record for the overlap, then revokes it (empty p=); run it "
                    + "daily (contrib/systemd/dkimkey-rotate.timer)", subject: key.queryName)
            }
        }

        // Alignment of d= with the From domain.
        let mode = policy?.dkimAlignment ?? .relaxed
        let aligning = usable.filter { $0.keyType == .rsa } + usable.filter { $0.keyType != .rsa }
        let strict = aligning.filter { $0.domain == domain }
        let relaxed = aligning.filter {
            $0.domain != domain && walks.organizationalDomain($0.domain) == walks.organizationalDomain(domain)
        }
        if let key = strict.first {
            out.aligned = key.keyType == .rsa || strict.contains { $0.keyType == .rsa }
            add("alignment", .ok,
                "d=\(key.domain) (\(key.selector)) is the From domain itself: aligned, strict and relaxed")
        } else if let key = relaxed.first {
            let org = walks.organizationalDomain(domain)
            if mode == .strict {
                add("alignment", .fail, "d=\(key.domain) (\(key.selector)) shares the organizational domain \(org) "
                    + "with \(domain), but the DMARC record asks for strict alignment (adkim=s), so it does not align. "
                    + "Fix: sign with a key for d=\(domain), or use adkim=r")
            } else {
                out.aligned = relaxed.contains { $0.keyType == .rsa }
                add("alignment", .ok, "d=\(key.domain) (\(key.selector)) is aligned with the From domain \(domain) "
                    + "under relaxed alignment (the same organizational domain, \(org)), not under strict: fine while "
                    + "adkim=r (the default)")
            }
        } else if !usable.isEmpty {
            let ds = Set(usable.map(\.domain)).sorted().joined(separator: ", ")
            add("alignment", .fail, "no key signs with a d= aligned with \(domain) (keys for \(ds)): DMARC needs a "
                + "signature of \(domain)'s own organization; a relay's or a provider's signature does not count. "
                + "Fix: dkimkey generate mail2026 --domain \(domain), publish it, and sign mail from \(domain) with it")
        }
        return out
    }
}
