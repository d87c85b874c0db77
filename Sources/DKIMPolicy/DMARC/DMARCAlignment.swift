/// DMARC identifier alignment (RFC 9989, "Identifier Alignment"): strict when the domains are
/// the same, relaxed when their organizational domains (found by tree walks) are the same.
public enum DMARCAlignment {
    public static func isAligned(_ identifier: String, with fromDomain: String, mode: DMARCRecord.Alignment,
                                 organizationalDomain: (String) -> String) -> Bool {
        let a = SPFEvaluator.normalized(identifier)
        let b = SPFEvaluator.normalized(fromDomain)
        if a == b { return true }
        guard mode == .relaxed else { return false }
        return organizationalDomain(a) == organizationalDomain(b)
    }
}
