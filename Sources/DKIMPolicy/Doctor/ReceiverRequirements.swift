/// What the doctor found, as the big receivers' rules see it.
struct ReceiverFacts {
    var spf: PartState
    var dkim: PartState
    var dmarc: PartState
    var dkimAligned: Bool
    var spfMayAlign: Bool
}

/// The bulk sender rules of Gmail (since February 2024), Yahoo (the same in substance) and
/// Microsoft's Outlook.com (enforced from May 2025): SPF and DKIM (an RSA signature: none of them
/// counts Ed25519), a DMARC record (p=none is enough), and the From domain aligned with SPF or DKIM.
public struct ReceiverRequirements: Sendable {
    public var name: String
    /// What happens to mail that misses the rules, and what else the receiver keys on.
    public var note: String

    public static let all = [
        ReceiverRequirements(name: "Gmail", note: "all senders need SPF or DKIM; over 5,000 messages a day, SPF, DKIM, "
            + "DMARC and alignment, or mail is rejected or marked as spam"),
        ReceiverRequirements(name: "Yahoo",
                             note: "the same rules; its complaint feedback loop is keyed on the DKIM d="),
        ReceiverRequirements(name: "Microsoft", note: "Outlook.com: over 5,000 messages a day must pass SPF, DKIM and "
            + "DMARC, or get 550 5.7.515 Access denied"),
    ]

    func row(_ facts: ReceiverFacts, findings: [DoctorFinding]) -> ReceiverRow {
        let aligned: String = switch (facts.dkimAligned, facts.spfMayAlign) {
        case (true, true): "DKIM and SPF"
        case (true, false): "DKIM"
        case (false, true): "SPF"
        case (false, false): "none"
        }
        let meets = facts.spf == .ok && facts.dkim == .ok && facts.dmarc == .ok && aligned != "none"
        return ReceiverRow(receiver: name, spf: facts.spf, dkim: facts.dkim, dmarc: facts.dmarc, aligned: aligned,
                           meetsRules: meets, note: note, nextStep: Self.nextStep(findings))
    }

    /// The fix of the first FAIL (DKIM, then SPF, then DMARC), else of the first WARN.
    static func nextStep(_ findings: [DoctorFinding]) -> String {
        let ordered = findings.filter { $0.status == .fail } + findings.filter { $0.status == .warn }
        guard let first = ordered.first else { return "nothing: keep rotating the keys and watching the DMARC reports" }
        let text = first.message
        if let range = text.firstRange(of: "Fix: ") {
            var fix = String(text[range.upperBound...])
            while fix.hasSuffix(":") || fix.hasSuffix(".") { fix.removeLast() }
            if let record = first.publish { fix += " — \(record.name) \(record.type) \"\(record.value)\"" }
            return fix
        }
        return text
    }
}
