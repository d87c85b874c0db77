/// Formats DKIM results as an RFC 8601 Authentication-Results header field value.
public enum AuthenticationResults {
    /// The value for `Authentication-Results:`, e.g.
    /// ` mail.example.org; dkim=pass header.d=example.com header.s=sel header.a=rsa-sha256 header.b=abcdefgh`.
    /// A message without signatures reports `dkim=none` (RFC 8601 §2.7.1).
    public static func value(authservID: String, results: [SignatureVerification]) -> String {
        guard !results.isEmpty else { return " \(authservID);\r\n\tdkim=none" }
        var parts: [String] = []
        for r in results {
            var p = "dkim=\(r.result.word)"
            if let e = r.result.error { p += " (\(commentSafe(e.summary)))" }
            if let d = r.domain { p += " header.d=\(d)" }
            if let s = r.signature { p += " header.i=\(s.identity ?? "@" + s.domain)" }
            if let s = r.selector { p += " header.s=\(s)" }
            if let a = r.algorithm { p += " header.a=\(a)" }
            if let sig = r.signature?.signatureData, !sig.isEmpty {
                p += " header.b=\(Base64.encode(sig).prefix(8))"
            }
            parts.append(p)
        }
        return " \(authservID);\r\n\t" + parts.joined(separator: ";\r\n\t")
    }

    private static func commentSafe(_ s: String) -> String {
        // RFC 8601 comments may not hold unbalanced parentheses or backslashes.
        String(s.map { $0 == "(" ? "[" : $0 == ")" ? "]" : ($0 == "\\" || $0 == "\r" || $0 == "\n") ? " " : $0 }.prefix(120))
    }
}
