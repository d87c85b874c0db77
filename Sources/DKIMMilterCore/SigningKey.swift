import DKIM
import DKIMKeyCheck

/// One key the milter signs with: `d=`, `s=` and the private key, parsed once at start.
public struct SigningKey: Sendable {
    public var domain: String
    public var selector: String
    public var key: any DKIMSigningKey
    /// The file it came from, for messages.
    public var path: String
    /// Where it is in its life (keys.state of the key store; active without one).
    public var lifecycle: KeyLifecycle
    /// When it was made, when known.
    public var created: Int?

    public init(domain: String, selector: String, key: any DKIMSigningKey, path: String,
                lifecycle: KeyLifecycle = .active, created: Int? = nil) {
        self.domain = domain
        self.selector = selector
        self.key = key
        self.path = path
        self.lifecycle = lifecycle
        self.created = created
    }

    /// The name its record is published at, `SELECTOR._domainkey.DOMAIN`, lower case.
    public var recordName: String { "\(selector)._domainkey.\(domain)".lowercased() }

    public var algorithm: SignatureAlgorithm { SignatureAlgorithm(keyType: key.keyType) }
}

extension SigningKey {
    /// Why `domain` cannot be the `d=` of a key, or nil when it can. RFC 6376 §3.5: `d=` is a
    /// domain-name (dot-separated labels of letters, digits and hyphens), checked with the
    /// signer's own rule so that a key that loads can sign; `%` is OpenDKIM's KeyTable stand-in
    /// for the author's domain. A name such as `x;y=z.example` would otherwise end up inside
    /// the DKIM-Signature tag list.
    public static func domainProblem(_ domain: String, allowsAuthorDomain: Bool = false) -> String? {
        if allowsAuthorDomain && domain == "%" { return nil }
        guard !DomainName.isValid(domain) else { return nil }
        return "\"\(domain)\" is not a domain name (RFC 6376 §3.5: labels of letters, digits and hyphens "
            + "separated by dots, such as example.com)"
    }

    /// Why `selector` cannot be the `s=` of a key, or nil when it can. RFC 6376 §3.1: a selector
    /// is sub-domain labels separated by dots, such as mail2026 or 2026.eu (an underscore is
    /// accepted too, as `TagValueSyntax.isSelector` explains).
    public static func selectorProblem(_ selector: String) -> String? {
        guard !DomainName.isValid(selector, requireDot: false) else { return nil }
        return "\"\(selector)\" is not a selector (RFC 6376 §3.1: labels of letters, digits, hyphens or "
            + "underscores separated by dots, such as mail2026)"
    }
}
