import DKIM
import DKIMOpenSSL

/// One key the milter signs with: `d=`, `s=` and the private key, parsed once at start.
public struct SigningKey: Sendable {
    public var domain: String
    public var selector: String
    public var key: any DKIMSigningKey
    /// The file it came from, for messages.
    public var path: String

    public init(domain: String, selector: String, key: any DKIMSigningKey, path: String) {
        self.domain = domain
        self.selector = selector
        self.key = key
        self.path = path
    }

    public var algorithm: SignatureAlgorithm { SignatureAlgorithm(keyType: key.keyType) }
}
