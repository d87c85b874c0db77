/// Signs one message fed field by field and chunk by chunk (RFC 6376 §5).
///
/// Sans-I/O: the key signs through `DKIMSigningKey`, the clock is the caller's `t=`.
public struct SigningSession {
    public let configuration: SignerConfiguration
    private let key: any DKIMSigningKey
    private let crypto: any DKIMCryptoProvider
    private let algorithm: SignatureAlgorithm
    private var headers: [HeaderField] = []
    private var fromCount = 0
    private var headerDigest: (any IncrementalDigest)?
    private var signedNames: [String] = []
    private var copies: [CopiedHeaderField]?
    private var bodyHasher: BodyHasher

    /// - Throws: `.invalidArgument` when the key cannot make the requested algorithm, or is an
    ///   RSA key below 1024 bits (RFC 8301 §3.2: signers MUST use at least 1024 bits).
    public init(configuration: SignerConfiguration, key: any DKIMSigningKey,
                crypto: any DKIMCryptoProvider) throws(DKIMError) {
        let algorithm = configuration.algorithm ?? SignatureAlgorithm(keyType: key.keyType)
        guard algorithm.keyType == key.keyType else {
            throw DKIMError(.invalidArgument,
                "a=\(algorithm.rawValue) needs a \(algorithm.keyType.rawValue) key, "
                + "but the key is \(key.keyType.rawValue)")
        }
        if key.keyType == .rsa && key.bitCount < 1024 {
            throw DKIMError(.invalidArgument,
                "the RSA key has \(key.bitCount) bits; RFC 8301 §3.2 requires at least 1024 (2048 recommended)")
        }
        // Every value we write must pass the grammar the verifier checks (SignatureTag, RFC 6376 §3.5).
        guard SignatureTag.domain.isWellFormed(configuration.domain) else {
            throw DKIMError(.invalidArgument, "the signing domain \"\(Printable.escaped(configuration.domain))\" "
                + "is not a valid domain name such as example.com (letters, digits, inner hyphens, dots)")
        }
        guard SignatureTag.selector.isWellFormed(configuration.selector) else {
            throw DKIMError(.invalidArgument, "the selector \"\(Printable.escaped(configuration.selector))\" "
                + "is not a valid selector such as mail2026 (letters, digits, inner hyphens, dots)")
        }
        if let i = configuration.identity {
            // RFC 6376 §3.5: i= is [local-part] "@" domain, and its domain is d= or a subdomain of it.
            let d = configuration.domain.lowercased()
            let encoded = TagValueSyntax.encodeQuotedPrintable(i.utf8)
            guard let (_, iDomain) = SignatureTag.decodedIdentity(encoded),
                  DKIMSignature.isSameOrSubdomain(iDomain, of: d) else {
                throw DKIMError(.invalidArgument, "the identity \"\(Printable.escaped(i))\" must be an address in \(d) "
                    + "or a subdomain of it, such as @\(d) or user@\(d) (RFC 6376 §3.5)")
            }
        }
        for (name, value) in [("timestamp", configuration.timestamp), ("expiration", configuration.expiration)] {
            if let v = value, v < 0 || v > 999_999_999_999 {
                throw DKIMError(.invalidArgument,
                    "the \(name) \(v) is not a time of at most 12 digits (RFC 6376 §3.5)")
            }
        }
        if let t = configuration.timestamp, let x = configuration.expiration, x <= t {
            throw DKIMError(.invalidArgument,
                "the expiration \(x) must be later than the timestamp \(t) (RFC 6376 §3.5)")
        }
        if let names = configuration.signedHeaderNames {
            guard names.contains(where: { $0.lowercased() == "from" }) else {
                throw DKIMError(.invalidArgument, "the signed header list must include From (RFC 6376 §5.4)")
            }
            // A field name is printable ASCII without ":" (RFC 5322 §3.6.8); ";" would break the tag list.
            guard names.allSatisfy({ TagValueSyntax.isFieldName($0.utf8) && !$0.utf8.contains(ASCII.semicolon) }) else {
                throw DKIMError(.invalidArgument, "the signed header list contains an invalid name")
            }
        }
        self.configuration = configuration
        self.key = key
        self.crypto = crypto
        self.algorithm = algorithm
        self.bodyHasher = BodyHasher(configuration.canonicalization.body, digest: crypto.makeSHA256())
    }

    /// Adds the next header field, top to bottom.
    public mutating func append(_ field: HeaderField) {
        headers.append(field)
    }

    /// Ends the header section and hashes the fields to sign.
    public mutating func endOfHeaders() {
        fromCount = headers.filter { $0.hasName("from") }.count
        signedNames = (configuration.signedHeaderNames ?? SignerConfiguration.defaultHeaderNames(for: headers))
            .map { $0.lowercased() }
        var digest = crypto.makeSHA256()
        digest.update(HeaderHashInput.signedFields(headers, names: signedNames,
                                                   canonicalization: configuration.canonicalization.header))
        if configuration.copiesHeaderFields {
            // The fields h= picks, in h= order (RFC 6376 §3.5 z=, §5.4.2).
            var picker = HeaderFieldPicker(headers)
            copies = picker.pick(signedNames).compactMap { CopiedHeaderField(headers[$0]) }
        }
        headerDigest = digest
        headers = []
    }

    /// Adds the next chunk of the body (CRLF line endings).
    public mutating func appendBody(_ chunk: UnsafeBufferPointer<UInt8>) {
        bodyHasher.update(chunk)
    }

    /// Adds the next chunk of the body (CRLF line endings).
    public mutating func appendBody(_ chunk: [UInt8]) {
        chunk.withUnsafeBufferPointer { appendBody($0) }
    }

    /// Ends the message and returns the DKIM-Signature field to put on top of it (RFC 6376 §5.6).
    public mutating func finish() throws(DKIMError) -> HeaderField {
        if headerDigest == nil { endOfHeaders() }
        // RFC 5322 §3.6: a message has exactly one From; RFC 6376 §5.4 requires signing it.
        guard fromCount == 1 else {
            throw DKIMError(.messageFormat, fromCount == 0
                ? "the message has no From field: it is not a mail message, or its header is cut off"
                : "the message has \(fromCount) From fields; RFC 5322 allows one, "
                    + "and a signature over it would be misleading (RFC 6376 §8.15)")
        }
        let bodyHash = bodyHasher.finalize()
        var signature = DKIMSignature(
            algorithm: algorithm, domain: configuration.domain, selector: configuration.selector,
            canonicalization: configuration.canonicalization, signedHeaderNames: signedNames, bodyHash: bodyHash,
            identity: configuration.identity,
            bodyLength: configuration.includesBodyLength ? bodyHasher.canonicalLength : nil,
            timestamp: configuration.timestamp, expiration: configuration.expiration, copiedHeaders: copies)
        let unsigned = signature.headerField(includeSignatureData: false)
        var digest = headerDigest!
        var canonical: [UInt8] = []
        configuration.canonicalization.header.canonicalizeHeader(unsigned.bytes, terminated: false, into: &canonical)
        digest.update(canonical)
        signature.signatureData = try key.signature(forDigest: digest.finalize())
        return signature.headerField(includeSignatureData: true)
    }
}
