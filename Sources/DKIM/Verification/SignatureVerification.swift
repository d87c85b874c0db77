/// What the verifier concluded about one DKIM-Signature field.
public struct SignatureVerification: Sendable {
    /// 1 for the topmost DKIM-Signature field, 2 for the next, …
    public var index: Int
    /// The parsed signature; nil when it could not be parsed.
    public var signature: DKIMSignature?
    /// `d=` as written, when present (also for unparseable signatures).
    public var domain: String?
    /// `s=` as written, when present.
    public var selector: String?
    /// `a=` as written, when present.
    public var algorithm: String?
    /// The result.
    public var result: VerificationResult
    /// The key record used, when one was found and parsed.
    public var keyRecord: KeyRecord?
    /// The size of the public key in bits (RSA modulus; 256 for Ed25519), when it was loaded.
    public var keyBits: Int?
    /// The body hash computed over the message, when it was computed.
    public var computedBodyHash: [UInt8]?
    /// The length of the canonicalized body, when it was computed.
    public var canonicalBodyLength: Int?

    public init(index: Int, signature: DKIMSignature? = nil, domain: String? = nil, selector: String? = nil,
                algorithm: String? = nil, result: VerificationResult) {
        self.index = index
        self.signature = signature
        self.domain = domain
        self.selector = selector
        self.algorithm = algorithm
        self.result = result
    }

    /// A sentence saying why the signature did not pass, or "signature verified".
    public var reason: String { result.error?.reason ?? "signature verified" }
}
