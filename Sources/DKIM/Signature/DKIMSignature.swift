/// A DKIM-Signature header field's tags, in RFC words (RFC 6376 §3.5).
public struct DKIMSignature: Sendable, Equatable {
    /// `a=`
    public var algorithm: SignatureAlgorithm
    /// `d=`: the signing domain identifier (SDID).
    public var domain: String
    /// `s=`
    public var selector: String
    /// `c=`
    public var canonicalization: CanonicalizationPair
    /// `h=`, in order, as written (names compare case-insensitively).
    public var signedHeaderNames: [String]
    /// `bh=`, decoded.
    public var bodyHash: [UInt8]
    /// `b=`, decoded.
    public var signatureData: [UInt8]
    /// `i=`: the agent or user identifier (AUID), when given.
    public var identity: String?
    /// `l=`
    public var bodyLength: Int?
    /// `t=`, seconds since the epoch.
    public var timestamp: Int?
    /// `x=`, seconds since the epoch.
    public var expiration: Int?
    /// `z=`: the signed header fields as they were (RFC 6376 §3.5), when the signer copied them.
    public var copiedHeaders: [CopiedHeaderField]?

    public init(algorithm: SignatureAlgorithm, domain: String, selector: String,
                canonicalization: CanonicalizationPair = .relaxedRelaxed, signedHeaderNames: [String],
                bodyHash: [UInt8] = [], signatureData: [UInt8] = [], identity: String? = nil,
                bodyLength: Int? = nil, timestamp: Int? = nil, expiration: Int? = nil,
                copiedHeaders: [CopiedHeaderField]? = nil) {
        self.algorithm = algorithm
        self.domain = domain
        self.selector = selector
        self.canonicalization = canonicalization
        self.signedHeaderNames = signedHeaderNames
        self.bodyHash = bodyHash
        self.signatureData = signatureData
        self.identity = identity
        self.bodyLength = bodyLength
        self.timestamp = timestamp
        self.expiration = expiration
        self.copiedHeaders = copiedHeaders
    }

    /// The domain part of the AUID: `i=`'s domain, or `d=` when `i=` is absent (RFC 6376 §3.5).
    public var identityDomain: String {
        guard let i = identity, let at = i.lastIndex(of: "@") else { return domain }
        return String(i[i.index(after: at)...])
    }

    /// The name to query for the key: `selector._domainkey.domain` (RFC 6376 §3.6.2.1), with
    /// internationalized labels as A-labels (RFC 8616 §3).
    public var keyQueryName: String {
        let name = "\(selector)._domainkey.\(domain)"
        return IDNA.asciiDomain(name) ?? name.lowercased()
    }
}
