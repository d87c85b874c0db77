/// The grammar productions DKIM tag values are built from (RFC 6376 §2.2–§2.11, §3.5, §3.6.1;
/// `domain-name` and `sub-domain` from RFC 5321 §4.1.2, with U-labels allowed by RFC 8616 §4),
/// checked on bytes. The signature and key-record tag tables (`SignatureTag`, `KeyRecordTag`)
/// are written in these terms, so the parser and the signer share one reading of the ABNF.
///
/// Values arrive as `TagList` gives them: outer whitespace removed, inner folding whitespace
/// (SP, HTAB, CR, LF) kept. A run of those bytes is one FWS.
public enum TagValueSyntax {
    /// `ALPHA [ *(ALPHA / DIGIT / "-") (ALPHA / DIGIT) ]` (RFC 6376 §2.10).
    public static func isHyphenatedWord<C: BidirectionalCollection<UInt8>>(_ bytes: C) -> Bool {
        guard let first = bytes.first, ASCII.isAlpha(first), let last = bytes.last, last != 0x2D else { return false }
        return bytes.allSatisfy { ASCII.isAlpha($0) || ASCII.isDigit($0) || $0 == 0x2D }
    }

    /// `sub-domain = Let-dig [Ldh-str]` (RFC 5321 §4.1.2): letters, digits and inner hyphens;
    /// UTF-8 bytes are accepted as parts of U-labels (RFC 8616 §4). At most 63 bytes (RFC 1035 §2.3.4).
    public static func isSubDomain<C: BidirectionalCollection<UInt8>>(_ bytes: C) -> Bool {
        guard let first = bytes.first, let last = bytes.last, bytes.count <= 63, first != 0x2D, last != 0x2D else {
            return false
        }
        return bytes.allSatisfy { ASCII.isAlpha($0) || ASCII.isDigit($0) || $0 == 0x2D || $0 >= 0x80 }
    }

    /// `domain-name = sub-domain 1*("." sub-domain)` (RFC 6376 §3.5 `d=`), at most 253 bytes.
    public static func isDomainName<C: BidirectionalCollection<UInt8>>(_ bytes: C) -> Bool {
        guard !bytes.isEmpty, bytes.count <= 253 else { return false }
        let labels = bytes.split(separator: 0x2E, omittingEmptySubsequences: false)
        return labels.count >= 2 && labels.allSatisfy(isSubDomain)
    }

    /// `selector = sub-domain *( "." sub-domain )` (RFC 6376 §3.1 `s=`), with one deviation: an
    /// underscore is accepted inside a label. It is a valid DNS label byte (RFC 2181 §11), it is
    /// a token byte (it cannot smuggle anything into an Authentication-Results field), and
    /// dkimpy, Mail::DKIM and OpenDKIM all accept such selectors.
    public static func isSelector<C: BidirectionalCollection<UInt8>>(_ bytes: C) -> Bool {
        guard !bytes.isEmpty, bytes.count <= 253 else { return false }
        return bytes.split(separator: 0x2E, omittingEmptySubsequences: false).allSatisfy { label in
            isSubDomain(label.map { $0 == 0x5F ? 0x61 : $0 })
        }
    }

    /// `field-name = 1*ftext`, printable US-ASCII except ":" (RFC 5322 §3.6.8; `hdr-name`, RFC 6376 §2.10).
    public static func isFieldName<C: BidirectionalCollection<UInt8>>(_ bytes: C) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy { $0 >= 0x21 && $0 <= 0x7E && $0 != ASCII.colon }
    }

    /// `1*N DIGIT` (`l=` has at most 76 digits, `t=` and `x=` at most 12; RFC 6376 §3.5).
    public static func isDigits<C: BidirectionalCollection<UInt8>>(_ bytes: C, maximumCount: Int) -> Bool {
        !bytes.isEmpty && bytes.count <= maximumCount && bytes.allSatisfy(ASCII.isDigit)
    }

    /// `base64string = ALPHADIGITPS *([FWS] ALPHADIGITPS) [ [FWS] "=" [ [FWS] "=" ] ]`
    /// (RFC 6376 §2.4): base64 characters with FWS anywhere, at most two "=" at the end.
    public static func isBase64String<C: BidirectionalCollection<UInt8>>(_ bytes: C) -> Bool {
        var padding = 0
        var sawData = false
        for b in bytes where !ASCII.isFWS(b) {
            if b == ASCII.equals {
                padding += 1
                guard sawData, padding <= 2 else { return false }
            } else {
                guard padding == 0, ASCII.isAlpha(b) || ASCII.isDigit(b) || b == 0x2B || b == 0x2F else { return false }
                sawData = true
            }
        }
        return sawData
    }

    /// The elements of a list written `element *( [FWS] separator [FWS] element )`, with the FWS
    /// around separators removed; FWS inside an element is left in place for the element's own
    /// rule to refuse.
    public static func listElements<C: BidirectionalCollection<UInt8>>(_ bytes: C,
                                                                       separator: UInt8) -> [C.SubSequence] {
        bytes.split(separator: separator, omittingEmptySubsequences: false).map(trimmingFWS)
    }

    /// The bytes without FWS at either end.
    public static func trimmingFWS<C: BidirectionalCollection<UInt8>>(_ bytes: C) -> C.SubSequence {
        var slice = bytes[...]
        while let f = slice.first, ASCII.isFWS(f) { slice = slice.dropFirst() }
        while let l = slice.last, ASCII.isFWS(l) { slice = slice.dropLast() }
        return slice
    }

    /// Decodes `dkim-quoted-printable = *(FWS / hex-octet / dkim-safe-char)` (RFC 6376 §2.11):
    /// FWS is dropped, `=XX` is the byte XX (upper-case hex digits, RFC 2045 §6.7; lower case is
    /// read too, as the deployed verifiers do), and every other byte must be a `dkim-safe-char`
    /// (`%x21-3A / %x3C / %x3E-7E`: printable, not ";" or "="). Nil when the value breaks the rule.
    public static func decodeQuotedPrintable<C: BidirectionalCollection<UInt8>>(_ bytes: C) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var pending: [UInt8] = []
        for b in bytes {
            if !pending.isEmpty {
                pending.append(b)
                if pending.count == 3 {
                    guard let hi = hexValue(pending[1]), let lo = hexValue(pending[2]) else { return nil }
                    out.append(hi << 4 | lo)
                    pending.removeAll()
                }
                continue
            }
            if ASCII.isFWS(b) { continue }
            if b == ASCII.equals { pending = [b]; continue }
            guard isDKIMSafe(b) else { return nil }
            out.append(b)
        }
        return pending.isEmpty ? out : nil
    }

    /// Encodes bytes as `dkim-quoted-printable`: every byte that is not a `dkim-safe-char` as `=XX`.
    public static func encodeQuotedPrintable<C: BidirectionalCollection<UInt8>>(_ bytes: C) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for b in bytes {
            if isDKIMSafe(b) {
                out.append(b)
            } else {
                out += [ASCII.equals, digits[Int(b >> 4)], digits[Int(b & 15)]]
            }
        }
        return ASCII.string(out)
    }

    /// `qp-hdr-value` (RFC 6376 §2.10): `dkim-quoted-printable` in which "|" is also encoded.
    public static func isQPHeaderValue<C: BidirectionalCollection<UInt8>>(_ bytes: C) -> Bool {
        !bytes.contains(0x7C) && decodeQuotedPrintable(bytes) != nil
    }

    /// `Local-part = Dot-string / Quoted-string` (RFC 5321 §4.1.2), with UTF-8 allowed in atoms
    /// (RFC 6531 §3.3).
    public static func isLocalPart<C: BidirectionalCollection<UInt8>>(_ bytes: C) -> Bool {
        guard let first = bytes.first else { return false }
        if first == 0x22 {
            // DQUOTE *( qtextSMTP / quoted-pairSMTP ) DQUOTE
            var escaped = false
            var closed = false
            for b in bytes.dropFirst() {
                guard !closed, b >= 0x20, b != 0x7F else { return false }
                if escaped { escaped = false } else if b == 0x5C { escaped = true } else if b == 0x22 { closed = true }
            }
            return closed
        }
        let atoms = bytes.split(separator: 0x2E, omittingEmptySubsequences: false)
        return atoms.allSatisfy { atom in !atom.isEmpty && atom.allSatisfy(isAtext) }
    }

    /// `atext` (RFC 5322 §3.2.3), plus UTF-8 (RFC 6532 §3.2).
    static func isAtext(_ b: UInt8) -> Bool {
        if ASCII.isAlpha(b) || ASCII.isDigit(b) || b >= 0x80 { return true }
        return "!#$%&'*+-/=?^_`{|}~".utf8.contains(b)
    }

    /// `dkim-safe-char = %x21-3A / %x3C / %x3E-7E` (RFC 6376 §2.11).
    static func isDKIMSafe(_ b: UInt8) -> Bool {
        b >= 0x21 && b <= 0x7E && b != ASCII.semicolon && b != ASCII.equals
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x41...0x46: b - 0x41 + 10
        case 0x61...0x66: b - 0x61 + 10
        default: nil
        }
    }
}
