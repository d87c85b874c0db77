/// The tags of a DKIM key record and the grammar of each value (RFC 6376 §3.6.1, RFC 8463 §4).
///
/// The parser checks every known tag against it and `dkimkey check` reports with it. Unknown
/// tags (such as `g=`, which RFC 4871 had and RFC 6376 removed) are not in the table and are
/// ignored, as §3.6.1 says; unknown names inside `h=`, `s=` and `t=` lists are well-formed and
/// ignored too, as long as each is a `hyphenated-word`.
public enum KeyRecordTag: String, CaseIterable, Sendable {
    case version = "v"
    case hashAlgorithms = "h"
    case keyType = "k"
    case notes = "n"
    case publicKey = "p"
    case serviceTypes = "s"
    case flags = "t"

    /// The value's grammar as RFC 6376 §3.6.1 writes it, for error messages.
    public var grammar: String {
        switch self {
        case .version: "\"DKIM1\""
        case .hashAlgorithms: "key-h-tag-alg *( [FWS] \":\" [FWS] key-h-tag-alg ), such as sha256"
        case .keyType: "\"rsa\" / \"ed25519\" / hyphenated-word"
        case .notes: "qp-section"
        case .publicKey: "base64string, or empty for a revoked key"
        case .serviceTypes: "key-s-tag-type *( [FWS] \":\" [FWS] key-s-tag-type ), such as email or *"
        case .flags: "key-t-tag-flag *( [FWS] \":\" [FWS] key-t-tag-flag ), such as y or s"
        }
    }

    /// Whether `value` (as `TagList` gives it: outer whitespace removed) follows the tag's grammar.
    public func isWellFormed(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        switch self {
        case .version:
            return value == "DKIM1"
        case .hashAlgorithms, .flags:
            return TagValueSyntax.listElements(bytes, separator: ASCII.colon)
                .allSatisfy(TagValueSyntax.isHyphenatedWord)
        case .serviceTypes:
            return TagValueSyntax.listElements(bytes, separator: ASCII.colon).allSatisfy {
                $0.elementsEqual([0x2A]) || TagValueSyntax.isHyphenatedWord($0)
            }
        case .keyType:
            return TagValueSyntax.isHyphenatedWord(bytes)
        case .notes:
            // "No interpretation is made by any program" (§3.6.1): notes never make a record unusable.
            return true
        case .publicKey:
            return bytes.allSatisfy(ASCII.isFWS) || TagValueSyntax.isBase64String(bytes)
        }
    }

    /// The error for a value that breaks the grammar, naming the tag, the value and the rule.
    public func malformed(_ value: String) -> DKIMError {
        DKIMError(.keySyntax,
                  "\(rawValue)=\(Printable.escaped(value, limit: 80)) is malformed: "
                  + "the value must be \(grammar) (RFC 6376 §3.6.1)")
    }

    /// The elements of a colon list value (`h=`, `s=`, `t=`), lower case.
    static func elements(_ value: String) -> [String] {
        TagValueSyntax.listElements(Array(value.utf8), separator: ASCII.colon).map { ASCII.string($0).lowercased() }
    }
}
