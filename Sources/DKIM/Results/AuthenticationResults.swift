/// Formats DKIM results as an RFC 8601 Authentication-Results header field value.
///
/// Downstream filters and DMARC evaluators trust what we write here, so nothing a message
/// says reaches the field raw: `header.d` and `header.s` are written only when they follow the
/// `domain-name` and `selector` grammar (RFC 6376 §3.5, a signature breaking it is a permerror
/// anyway), every property value is an RFC 8601 `value` (a token, or a quoted-string with its
/// escapes), and the reason comment holds no parentheses, backslashes or control bytes.
public enum AuthenticationResults {
    /// The value for `Authentication-Results:`, e.g.
    /// ` mail.example.org; dkim=pass header.d=example.com header.s=sel header.a=rsa-sha256 header.b="abcdefgh"`.
    /// A message without signatures reports `dkim=none` (RFC 8601 §2.7.1).
    public static func value(authservID: String, results: [SignatureVerification]) -> String {
        let id = propertyValue(authservID)
        guard !results.isEmpty else { return " \(id);\r\n\tdkim=none" }
        var parts: [String] = []
        for r in results {
            var p = "dkim=\(r.result.word)"
            if let e = r.result.error { p += " (\(comment(e.summary)))" }
            if let d = r.domain, TagValueSyntax.isDomainName(d.utf8) { p += " header.d=\(d)" }
            if let s = r.signature { p += " header.i=\(identityValue(s.identity ?? "@" + s.domain))" }
            if let s = r.selector, TagValueSyntax.isSelector(s.utf8) { p += " header.s=\(propertyValue(s))" }
            if let a = r.algorithm, !a.isEmpty { p += " header.a=\(propertyValue(a))" }
            if let sig = r.signature?.signatureData, !sig.isEmpty {
                p += " header.b=\(propertyValue(String(Base64.encode(sig).prefix(8))))"
            }
            parts.append(p)
        }
        return " \(id);\r\n\t" + parts.joined(separator: ";\r\n\t")
    }

    /// RFC 8601 §2.2 `value` = token / quoted-string (RFC 2045 §5.1): a token when every byte may
    /// stand in one, otherwise a quoted-string with `"` and `\` escaped and control bytes replaced.
    public static func propertyValue(_ text: String) -> String {
        let bytes = text.utf8
        if !bytes.isEmpty, bytes.allSatisfy(isTokenByte) { return text }
        var out: [UInt8] = [0x22]
        for b in bytes {
            if b == 0x22 || b == 0x5C {
                out += [0x5C, b]
            } else if b < 0x20 || b == 0x7F {
                out.append(0x3F)
            } else {
                out.append(b)
            }
        }
        out.append(0x22)
        return String(decoding: out, as: UTF8.self)
    }

    /// `header.i`: RFC 8601 §2.3 writes `[ [ local-part ] "@" ] domain-name` as it is, the local
    /// part a dot-atom or a quoted-string (RFC 5322 §3.4.1); anything else as a quoted-string.
    static func identityValue(_ identity: String) -> String {
        let bytes = Array(identity.utf8)
        if let at = bytes.lastIndex(of: 0x40) {
            let local = bytes[..<at]
            let domain = bytes[(at + 1)...]
            if (local.isEmpty || (local.allSatisfy { $0 < 0x80 } && TagValueSyntax.isLocalPart(local)))
                && TagValueSyntax.isDomainName(domain) {
                return identity
            }
        }
        return propertyValue(identity)
    }

    /// A reason as an RFC 5322 comment's content: no parentheses or backslashes (which would
    /// end or escape it), no control bytes (a CR or LF would end the header line), 120 bytes at most.
    static func comment(_ text: String) -> String {
        var out: [UInt8] = []
        for b in text.utf8 {
            switch b {
            case 0x28: out.append(0x5B)
            case 0x29: out.append(0x5D)
            case 0x5C: out.append(0x2F)
            case ..<0x20, 0x7F: out.append(0x20)
            default: out.append(b)
            }
        }
        if out.count > 120 {
            out = Array(out.prefix(120))
            // Do not end inside a UTF-8 sequence.
            while let last = out.last, last & 0xC0 == 0x80 { out.removeLast() }
            if let last = out.last, last >= 0xC0 { out.removeLast() }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// RFC 2045 §5.1: any US-ASCII CHAR except SPACE, CTLs and tspecials `()<>@,;:\"/[]?=`.
    static func isTokenByte(_ b: UInt8) -> Bool {
        guard b > 0x20, b < 0x7F else { return false }
        return !"()<>@,;:\\\"/[]?=".utf8.contains(b)
    }
}
