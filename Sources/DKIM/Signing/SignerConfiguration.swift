/// What to sign and how.
public struct SignerConfiguration: Sendable {
    /// `d=`
    public var domain: String
    /// `s=`
    public var selector: String
    /// `a=`; nil follows the key type (rsa-sha256 for RSA keys, ed25519-sha256 for Ed25519).
    public var algorithm: SignatureAlgorithm?
    /// `c=`; relaxed/relaxed survives the whitespace changes relays make.
    public var canonicalization: CanonicalizationPair
    /// The exact `h=` list (repeats and absent names allowed), or nil for
    /// `SignerConfiguration.defaultHeaderNames(for:)`.
    public var signedHeaderNames: [String]?
    /// Whether to add `l=` with the full canonicalized body length. Off by default: `l=`
    /// lets anyone append content under the signature (RFC 6376 §8.2).
    public var includesBodyLength: Bool
    /// `t=`
    public var timestamp: Int?
    /// `x=`
    public var expiration: Int?
    /// `i=`
    public var identity: String?
    /// Whether to copy the signed header fields into `z=` (RFC 6376 §3.5), so that a verifier can
    /// tell which one changed on the way (OpenDKIM's Diagnostics). Off by default: it makes the
    /// signature larger and shows the fields' values to every later hop.
    public var copiesHeaderFields: Bool

    public init(domain: String, selector: String, algorithm: SignatureAlgorithm? = nil,
                canonicalization: CanonicalizationPair = .relaxedRelaxed, signedHeaderNames: [String]? = nil,
                includesBodyLength: Bool = false, timestamp: Int? = nil, expiration: Int? = nil,
                identity: String? = nil, copiesHeaderFields: Bool = false) {
        self.domain = domain
        self.selector = selector
        self.algorithm = algorithm
        self.canonicalization = canonicalization
        self.signedHeaderNames = signedHeaderNames
        self.includesBodyLength = includesBodyLength
        self.timestamp = timestamp
        self.expiration = expiration
        self.identity = identity
        self.copiesHeaderFields = copiesHeaderFields
    }

    /// The fields RFC 6376 §5.4.1 recommends signing, plus the fields that define how the
    /// body is read (MIME-Version, Content-*) and Message-ID.
    public static let recommendedHeaderNames = [
        "from", "reply-to", "subject", "date", "to", "cc", "resent-date", "resent-from", "resent-to", "resent-cc",
        "in-reply-to", "references", "list-id", "list-help", "list-unsubscribe", "list-subscribe", "list-post",
        "list-owner", "list-archive", "message-id", "mime-version", "content-type", "content-transfer-encoding",
    ]

    /// Fields listed once more than they occur, so that none can be added after signing
    /// (RFC 6376 §8.15 — a second From would change what the reader sees).
    public static let oversignedHeaderNames = [
        "from", "subject", "date", "to", "cc", "reply-to", "message-id", "content-type", "mime-version",
    ]

    /// The default `h=` for a message: every instance of a recommended field present in it
    /// (bottom-up order does not matter for the list), then one more of each over-signed field.
    public static func defaultHeaderNames(for fields: [HeaderField]) -> [String] {
        var counts: [String: Int] = [:]
        for f in fields { counts[f.lowercasedName, default: 0] += 1 }
        var names: [String] = []
        for name in recommendedHeaderNames {
            names.append(contentsOf: repeatElement(name, count: counts[name] ?? 0))
        }
        names.append(contentsOf: oversignedHeaderNames)
        return names
    }
}
