/// What a receiver's Authentication-Results say about DMARC, in words: the result it reported
/// and why — which authenticated identifier was aligned with the From domain, or why none was
/// (RFC 9989, "Identifier Alignment": DMARC passes when SPF or DKIM passes for a domain aligned
/// with the From domain). Text from the field is returned as is; the caller escapes it.
public struct ReceiverVerdict: Sendable {
    public var authservID: String
    /// `dmarc=` as reported, nil when the field has none.
    public var dmarc: String?
    /// The From domain: the receiver's `header.from`, else the message's.
    public var fromDomain: String?
    public var lines: [String]

    /// - Parameters:
    ///   - messageFromDomain: the From domain read from the message itself.
    ///   - organizationalDomain: the organizational domain of a name (a DMARC tree walk).
    ///   - dkimAlignment, spfAlignment: the From domain's `adkim`/`aspf` (relaxed by default).
    public init(_ results: ReceivedAuthenticationResults, messageFromDomain: String?,
                dkimAlignment: DMARCRecord.Alignment = .relaxed, spfAlignment: DMARCRecord.Alignment = .relaxed,
                organizationalDomain: (String) -> String) {
        authservID = results.authservID
        let dmarcResult = results.results("dmarc").first
        dmarc = dmarcResult?.result
        let from = (dmarcResult?.property("header.from")).map(Self.domain) ?? messageFromDomain
        fromDomain = from
        var lines: [String] = []
        let policy = dmarcResult?.comment.map { " (\($0))" } ?? ""
        let label = results.instance.map { "ARC set i=\($0) by \(results.authservID)" } ?? results.authservID
        guard let dmarcResult else {
            lines.append("\(label) reported no DMARC result"
                + (from.map { "; mail from \($0) is judged by its DMARC policy only where receivers report one" }
                   ?? ""))
            self.lines = lines + Self.methodLines(results, from: from, dkimAlignment: dkimAlignment,
                                                  spfAlignment: spfAlignment,
                                                  organizationalDomain: organizationalDomain).lines
            return
        }
        lines.append("\(label): dmarc=\(dmarcResult.result)\(policy) for From domain \(from ?? "unknown")")
        let methods = Self.methodLines(results, from: from, dkimAlignment: dkimAlignment, spfAlignment: spfAlignment,
                                       organizationalDomain: organizationalDomain)
        switch dmarcResult.result {
        case "pass":
            if let why = methods.aligned.first {
                lines.append("DMARC passed because \(why)")
            } else {
                lines.append("DMARC passed, though no passing identifier in this field looks aligned "
                    + "(the receiver may have used ARC or a local override)")
            }
        case "fail":
            let domain = from ?? "the From domain"
            lines.append("DMARC failed: no identifier was both authenticated and aligned with \(domain)")
        case "none":
            let domain = from ?? "DOMAIN"
            lines.append("no DMARC policy was found for \(from ?? "the From domain"): publish one at _dmarc.\(domain) "
                + "(dkimkey doctor \(domain) says what to put there)")
        case "temperror":
            lines.append("the receiver could not look the DMARC policy up (a DNS failure): it may retry or defer")
        case "permerror":
            lines.append("the receiver could not read the DMARC record of \(from ?? "the From domain") (permerror): "
                + "check it with dkimkey doctor")
        default:
            break
        }
        lines += methods.lines
        if dmarcResult.result == "fail", let from {
            lines.append("to pass: sign with d=\(from) (or a parent domain in the same organization) using a key whose "
                + "record is published, and keep the signed fields and body unchanged on the way; or send with an "
                + "envelope sender in \(from) through servers its SPF record lists")
        }
        self.lines = lines
    }

    /// The domain of a `header.from` / `smtp.mailfrom` / `header.i` value: after the last "@".
    public static func domain(_ value: String) -> String {
        var d = Substring(value)
        if let at = d.lastIndex(of: "@") { d = d[d.index(after: at)...] }
        while d.hasSuffix(".") || d.hasSuffix(">") { d = d.dropLast() }
        return d.lowercased()
    }

    /// One line for each DKIM and SPF result, and the reasons an identifier was aligned.
    static func methodLines(_ results: ReceivedAuthenticationResults, from: String?,
                            dkimAlignment: DMARCRecord.Alignment, spfAlignment: DMARCRecord.Alignment,
                            organizationalDomain: (String) -> String) -> (lines: [String], aligned: [String]) {
        var lines: [String] = []
        var aligned: [String] = []
        func alignment(_ identifier: String, _ mode: DMARCRecord.Alignment) -> (Bool, String) {
            guard let from else { return (false, "") }
            if identifier == from { return (true, "the same domain as From") }
            let same = DMARCAlignment.isAligned(identifier, with: from, mode: mode,
                                                organizationalDomain: organizationalDomain)
            if same { return (true, "aligned with \(from) (same organizational domain, relaxed)") }
            if mode == .strict, DMARCAlignment.isAligned(identifier, with: from, mode: .relaxed,
                                                         organizationalDomain: organizationalDomain) {
                return (false, "not aligned: the policy asks for strict alignment and \(identifier) is not \(from)")
            }
            return (false, "not aligned: \(identifier) belongs to another organization than \(from)")
        }
        let dkim = results.results("dkim")
        if dkim.isEmpty { lines.append("DKIM: no result reported (the receiver saw no signature?)") }
        for r in dkim {
            let d = r.property("header.d").map(domain) ?? r.property("header.i").map(domain)
            let s = r.property("header.s").map { " s=\($0)" } ?? ""
            guard let d else {
                lines.append("DKIM: \(r.result)" + (r.result == "none" ? " — the message carried no signature" : ""))
                continue
            }
            let (ok, words) = alignment(d, dkimAlignment)
            switch r.result {
            case "pass":
                lines.append("DKIM: pass for d=\(d)\(s), \(words)")
                if ok { aligned.append("the DKIM signature of d=\(d)\(s) passed and is \(words)") }
            default:
                lines.append("DKIM: \(r.result) for d=\(d)\(s)" + (ok
                    ? " — this is the signature that would have aligned; see why it failed in our verification"
                    : " (\(words))"))
            }
        }
        let spf = results.results("spf")
        if spf.isEmpty { lines.append("SPF: no result reported") }
        for r in spf {
            let mailfrom = r.property("smtp.mailfrom") ?? r.property("smtp.helo")
            guard let mailfrom else { lines.append("SPF: \(r.result)"); continue }
            let d = domain(mailfrom)
            let (ok, words) = alignment(d, spfAlignment)
            switch r.result {
            case "pass":
                lines.append("SPF: pass for the envelope sender \(mailfrom), \(words)"
                    + (ok ? "" : " — a relay or forwarder that rewrites the envelope sender makes SPF pass for "
                       + "its own domain, which cannot align; DMARC then rests on DKIM"))
                if ok { aligned.append("SPF passed for the envelope sender \(mailfrom), \(words)") }
            case "fail", "softfail":
                lines.append("SPF: \(r.result) for \(mailfrom): the sending server is not in the SPF record of \(d)"
                    + (ok ? " (fix: add the relay's include: or its addresses to that record)" : ""))
            default:
                lines.append("SPF: \(r.result) for \(mailfrom)")
            }
        }
        return (lines, aligned)
    }
}
