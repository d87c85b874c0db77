/// The tags of a DKIM-Signature field and the grammar of each value (RFC 6376 §3.5).
///
/// One table for both directions: the parser checks every known tag it reads against it, and
/// the signer checks every value it is about to write, so nothing we sign is refused by us or
/// by a strict verifier. Unknown tags are not in the table: RFC 6376 §3.2 says to ignore them.
public enum SignatureTag: String, CaseIterable, Sendable {
    case version = "v"
    case algorithm = "a"
    case signature = "b"
    case bodyHash = "bh"
    case canonicalization = "c"
    case domain = "d"
    case signedHeaders = "h"
    case identity = "i"
    case bodyLength = "l"
    case queryMethods = "q"
    case selector = "s"
    case timestamp = "t"
    case expiration = "x"
    case copiedHeaders = "z"

    /// The value's grammar as RFC 6376 §3.5 writes it, for error messages.
    public var grammar: String {
        switch self {
        case .version: "1*DIGIT"
        case .algorithm: "sig-a-tag-k \"-\" sig-a-tag-h, such as rsa-sha256"
        case .signature, .bodyHash: "base64string"
        case .canonicalization: "sig-c-tag-alg [\"/\" sig-c-tag-alg], such as relaxed/relaxed"
        case .domain: "domain-name, such as example.com"
        case .signedHeaders: "hdr-name *( [FWS] \":\" [FWS] hdr-name )"
        case .identity: "[ Local-part ] \"@\" domain-name, in dkim-quoted-printable"
        case .bodyLength: "1*76DIGIT"
        case .queryMethods: "sig-q-tag-method *( [FWS] \":\" [FWS] sig-q-tag-method ), such as dns/txt"
        case .selector: "selector (sub-domain *( \".\" sub-domain )), such as mail2026"
        case .timestamp, .expiration: "1*12DIGIT"
        case .copiedHeaders: "hdr-name [FWS] \":\" qp-hdr-value *( \"|\" [FWS] hdr-name [FWS] \":\" qp-hdr-value )"
        }
    }

    /// Whether `value` (as `TagList` gives it: outer whitespace removed) follows the tag's grammar.
    public func isWellFormed(_ value: String) -> Bool {
        let bytes = value.utf8
        switch self {
        case .version:
            return TagValueSyntax.isDigits(bytes, maximumCount: 10)
        case .algorithm:
            // sig-a-tag-k = "rsa" / ALPHA *(LOWER / DIGIT); sig-a-tag-h = "sha1" / "sha256" / the same.
            // Quoted ABNF literals are case-insensitive (RFC 5234 §2.3), so RSA-SHA256 is well-formed.
            let parts = bytes.split(separator: 0x2D, omittingEmptySubsequences: false)
            return parts.count == 2 && parts.allSatisfy { part in
                part.first.map(ASCII.isAlpha) == true && part.allSatisfy { ASCII.isAlpha($0) || ASCII.isDigit($0) }
            }
        case .signature, .bodyHash:
            return TagValueSyntax.isBase64String(bytes)
        case .canonicalization:
            let parts = bytes.split(separator: 0x2F, omittingEmptySubsequences: false)
            return (1...2).contains(parts.count) && parts.allSatisfy(TagValueSyntax.isHyphenatedWord)
        case .domain:
            return TagValueSyntax.isDomainName(bytes)
        case .selector:
            return TagValueSyntax.isSelector(bytes)
        case .signedHeaders:
            // An empty entry (h=from::to) breaks the ABNF, but all three reference verifiers accept it
            // and it selects nothing (corpus sig-h-empty-entry); whitespace inside a name is refused.
            let names = TagValueSyntax.listElements(Array(bytes), separator: ASCII.colon)
            return names.contains { !$0.isEmpty } && names.allSatisfy { $0.isEmpty || TagValueSyntax.isFieldName($0) }
        case .identity:
            return Self.decodedIdentity(value) != nil
        case .bodyLength:
            return TagValueSyntax.isDigits(bytes, maximumCount: 76)
        case .timestamp, .expiration:
            return TagValueSyntax.isDigits(bytes, maximumCount: 12)
        case .queryMethods:
            // sig-q-tag-method = "dns/txt" / x-sig-q-tag-type ["/" x-sig-q-tag-args]
            return TagValueSyntax.listElements(Array(bytes), separator: ASCII.colon).allSatisfy { method in
                guard let slash = method.firstIndex(of: 0x2F) else { return TagValueSyntax.isHyphenatedWord(method) }
                return TagValueSyntax.isHyphenatedWord(method[..<slash])
                    && TagValueSyntax.isQPHeaderValue(method[(slash + 1)...])
            }
        case .copiedHeaders:
            // sig-z-tag-copy = hdr-name [FWS] ":" qp-hdr-value, separated by "|" [FWS].
            return Array(bytes).split(separator: 0x7C, omittingEmptySubsequences: false).allSatisfy { copy in
                guard let colon = copy.firstIndex(of: ASCII.colon) else { return false }
                return TagValueSyntax.isFieldName(TagValueSyntax.trimmingFWS(copy[..<colon]))
                    && TagValueSyntax.isQPHeaderValue(copy[(colon + 1)...])
            }
        }
    }

    /// The error for a value that breaks the grammar, naming the tag, the value and the rule.
    public func malformed(_ value: String) -> DKIMError {
        DKIMError(.signatureSyntax,
                  "\(rawValue)=\(Printable.escaped(value, limit: 80)) is malformed: "
                  + "the value must be \(grammar) (RFC 6376 §3.5)")
    }

    /// The identity an `i=` value names, decoded from dkim-quoted-printable, split into local part
    /// (possibly empty) and domain; nil when it is not `[ Local-part ] "@" domain-name`.
    public static func decodedIdentity(_ value: String) -> (localPart: String, domain: String)? {
        guard let decoded = TagValueSyntax.decodeQuotedPrintable(value.utf8),
              let at = decoded.lastIndex(of: 0x40) else { return nil }
        let local = decoded[..<at]
        let domain = decoded[(at + 1)...]
        guard local.isEmpty || TagValueSyntax.isLocalPart(local), TagValueSyntax.isDomainName(domain) else {
            return nil
        }
        // Decoded bytes must still be text: an =XX escape of invalid UTF-8 is not an address.
        guard let localText = String(validating: local, as: UTF8.self),
              let domainText = String(validating: domain, as: UTF8.self) else { return nil }
        return (localText, domainText)
    }
}
