/// A header field copied into a signature's `z=` tag (RFC 6376 §3.5): the name and the value as
/// they were signed, so that a verifier whose check fails can tell which field changed on the
/// way. Diagnostic only: verifiers MUST NOT use the copies to verify (RFC 6376 §3.5).
///
/// `z=` is `sig-z-tag-copy *( "|" [FWS] sig-z-tag-copy )`, each copy `hdr-name [FWS] ":"
/// qp-hdr-value`: the value in dkim-quoted-printable with "|" encoded as well (§2.11, §3.5). We
/// copy the value bytes exactly as signed (the space after the colon and any folding included),
/// so that a change only simple canonicalization notices can be shown too.
public struct CopiedHeaderField: Sendable, Equatable {
    /// The field name as written.
    public var name: String
    /// The bytes after the colon, as signed.
    public var value: [UInt8]

    public init(name: String, value: [UInt8]) {
        self.name = name
        self.value = value
    }

    /// The copy of a field (nil for a line without a colon, which is never signed).
    public init?(_ field: HeaderField) {
        guard field.colonIndex != nil else { return nil }
        self.init(name: field.name, value: Array(field.rawValue))
    }

    /// The field as it was signed.
    public var field: HeaderField {
        HeaderField(bytes: Array(name.utf8) + [ASCII.colon] + value)
    }

    /// `hdr-name ":" qp-hdr-value`, as pieces that may be folded between: single bytes and `=XX`.
    var encodedPieces: [String] {
        var pieces = [name + ":"]
        let digits = Array("0123456789ABCDEF".utf8)
        for b in value {
            if TagValueSyntax.isDKIMSafe(b) && b != 0x7C {
                pieces.append(String(UnicodeScalar(b)))
            } else {
                pieces.append(String(decoding: [ASCII.equals, digits[Int(b >> 4)], digits[Int(b & 15)]], as: UTF8.self))
            }
        }
        return pieces
    }

    /// The `z=` value for these copies, unfolded.
    public static func tagValue(_ copies: [CopiedHeaderField]) -> String {
        copies.map { $0.encodedPieces.joined() }.joined(separator: "|")
    }

    /// Reads a `z=` value (as `TagList` gives it); nil when it breaks the grammar.
    public static func parse(tagValue: String) -> [CopiedHeaderField]? {
        var out: [CopiedHeaderField] = []
        for copy in Array(tagValue.utf8).split(separator: 0x7C, omittingEmptySubsequences: false) {
            guard let colon = copy.firstIndex(of: ASCII.colon) else { return nil }
            let name = TagValueSyntax.trimmingFWS(copy[..<colon])
            guard TagValueSyntax.isFieldName(name),
                  let value = TagValueSyntax.decodeQuotedPrintable(copy[(colon + 1)...]) else {
                return nil
            }
            out.append(CopiedHeaderField(name: ASCII.string(name), value: value))
        }
        return out
    }
}
