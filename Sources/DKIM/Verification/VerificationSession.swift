/// Verifies every DKIM-Signature of one message, fed field by field and chunk by chunk
/// (RFC 6376 §6). Sans-I/O: the caller looks the keys up between `endOfHeaders()` and
/// `finish(keys:)`, so DNS time can overlap the body transfer.
public struct VerificationSession {
    private struct Candidate {
        var verification: SignatureVerification
        var field: HeaderField
        var tags: TagList?
        var headerDigest: (any IncrementalDigest)?
        var bodyHasherIndex: Int?
    }

    private struct BodyHashKey: Hashable {
        var canonicalization: Canonicalization
        var length: Int?
    }

    public let configuration: VerifierConfiguration
    private let crypto: any DKIMCryptoProvider
    private let now: Int
    private var headers: [HeaderField] = []
    private var candidates: [Candidate] = []
    private var bodyHashers: [BodyHasher] = []
    private var bodyHasherKeys: [BodyHashKey: Int] = [:]

    /// - Parameters:
    ///   - now: the current time in seconds since the epoch, for `t=` and `x=` (no clock is read here).
    public init(configuration: VerifierConfiguration = .init(), crypto: any DKIMCryptoProvider, now: Int) {
        self.configuration = configuration
        self.crypto = crypto
        self.now = now
    }

    /// Adds the next header field, top to bottom.
    public mutating func append(_ field: HeaderField) {
        headers.append(field)
    }

    /// Ends the header section: parses the signatures, hashes their signed header fields and
    /// returns the key names to look up (`selector._domainkey.domain`), without duplicates.
    public mutating func endOfHeaders() -> [String] {
        var picked = 0
        for field in headers where field.hasName("dkim-signature") {
            picked += 1
            var candidate = Candidate(verification: SignatureVerification(index: picked, result: .pass), field: field)
            if picked > configuration.maximumSignatures {
                candidate.verification.result = .neutral(DKIMError(.tooManySignatures,
                    "not evaluated: only the first \(configuration.maximumSignatures) signatures are checked"))
                describeUnparsed(&candidate)
                candidates.append(candidate)
                continue
            }
            prepare(&candidate)
            candidates.append(candidate)
        }
        var names: [String] = []
        var seen = Set<String>()
        for c in candidates where c.headerDigest != nil {
            if let name = c.verification.signature?.keyQueryName, seen.insert(name).inserted { names.append(name) }
        }
        headers = []
        return names
    }

    /// Adds the next chunk of the body (CRLF line endings).
    public mutating func appendBody(_ chunk: UnsafeBufferPointer<UInt8>) {
        for i in bodyHashers.indices { bodyHashers[i].update(chunk) }
    }

    /// Adds the next chunk of the body (CRLF line endings).
    public mutating func appendBody(_ chunk: [UInt8]) {
        chunk.withUnsafeBufferPointer { appendBody($0) }
    }

    /// Whether the message had no DKIM-Signature at all (RFC 8601 `dkim=none`).
    public var hasNoSignatures: Bool { candidates.isEmpty }

    /// Ends the message and judges each signature.
    /// - Parameter keys: the lookup result for each name `endOfHeaders()` returned.
    public mutating func finish(keys: (String) -> TXTLookupResult) -> [SignatureVerification] {
        var bodyHashes: [[UInt8]] = []
        var lengths: [Int] = []
        for i in bodyHashers.indices {
            bodyHashes.append(bodyHashers[i].finalize())
            lengths.append(bodyHashers[i].canonicalLength)
        }
        var results: [SignatureVerification] = []
        for var c in candidates {
            if c.headerDigest != nil, let hasher = c.bodyHasherIndex {
                c.verification.computedBodyHash = bodyHashes[hasher]
                c.verification.canonicalBodyLength = lengths[hasher]
                c.verification.result = judge(&c, bodyHash: bodyHashes[hasher], bodyLength: lengths[hasher], keys: keys)
            }
            results.append(c.verification)
        }
        candidates = []
        return results
    }

    // MARK: - Steps

    private func describeUnparsed(_ c: inout Candidate) {
        guard let colon = c.field.colonIndex else { return }
        let values = TagList.lenientValues(c.field.bytes, range: (colon + 1)..<c.field.bytes.count)
        c.verification.domain = values["d"]
        c.verification.selector = values["s"]
        c.verification.algorithm = values["a"]
    }

    private mutating func prepare(_ c: inout Candidate) {
        let signature: DKIMSignature
        let tags: TagList
        do {
            let colon = c.field.colonIndex ?? c.field.bytes.count
            tags = try TagList(parsing: c.field.bytes, range: min(colon + 1, c.field.bytes.count)..<c.field.bytes.count)
            c.verification.domain = tags["d"]?.removingFWS
            c.verification.selector = tags["s"]?.removingFWS
            c.verification.algorithm = tags["a"]?.removingFWS
            signature = try DKIMSignature(parsing: tags)
        } catch {
            describeUnparsed(&c)
            c.verification.result = VerificationResult(stoppedBy: error)
            return
        }
        c.verification.signature = signature
        c.tags = tags
        // RFC 6376 §3.5 / §6.1.1: x= in the past: the signature has expired.
        if configuration.rejectsExpiredSignatures, let x = signature.expiration,
           x + configuration.allowedClockDrift < now {
            c.verification.result = .permError(DKIMError(.signatureExpired,
                                                         "the signature expired at x=\(x) (RFC 6376 §3.5)"))
            return
        }
        if configuration.rejectsFutureTimestamps, let t = signature.timestamp,
           t > now + configuration.allowedClockDrift {
            c.verification.result = .permError(DKIMError(.timestampInFuture, "t=\(t) is in the future"))
            return
        }
        // Hash the signed header fields now; the signature field itself goes last, at finish.
        var digest = crypto.makeSHA256()
        digest.update(HeaderHashInput.signedFields(headers, names: signature.signedHeaderNames,
                                                   canonicalization: signature.canonicalization.header))
        c.headerDigest = digest
        let key = BodyHashKey(canonicalization: signature.canonicalization.body, length: signature.bodyLength)
        if let existing = bodyHasherKeys[key] {
            c.bodyHasherIndex = existing
        } else {
            bodyHashers.append(BodyHasher(key.canonicalization, lengthLimit: key.length, digest: crypto.makeSHA256()))
            bodyHasherKeys[key] = bodyHashers.count - 1
            c.bodyHasherIndex = bodyHashers.count - 1
        }
    }

    private func judge(_ c: inout Candidate, bodyHash: [UInt8], bodyLength: Int,
                       keys: (String) -> TXTLookupResult) -> VerificationResult {
        guard let signature = c.verification.signature, let tags = c.tags, var digest = c.headerDigest else {
            return c.verification.result
        }
        // RFC 6376 §3.5: l= larger than the canonicalized body is inconsistent.
        if let l = signature.bodyLength, l > bodyLength {
            return .permError(DKIMError(.bodyLengthTooLarge,
                "l=\(l) is larger than the canonicalized body (\(bodyLength) bytes) (RFC 6376 §3.5)"))
        }
        let key: any DKIMVerifyingKey
        switch fetchKey(for: signature, keys: keys) {
        case .success(let (record, verifyingKey)):
            c.verification.keyRecord = record
            c.verification.keyBits = verifyingKey.bitCount
            key = verifyingKey
        case .failure(let error):
            return VerificationResult(stoppedBy: error)
        }
        // RFC 6376 §6.1.3: the body hash must match.
        guard !signature.bodyHash.isEmpty else {
            return .fail(DKIMError(.badBase64, "bh= is not valid base64"))
        }
        guard signature.bodyHash == bodyHash else {
            return .fail(DKIMError(.bodyHashMismatch,
                "body hash mismatch: the body was changed after signing (computed \(Base64.encode(bodyHash)), "
                + "bh=\(Base64.encode(signature.bodyHash)))"))
        }
        guard !signature.signatureData.isEmpty else {
            return .fail(DKIMError(.badBase64, "b= is not valid base64"))
        }
        // RFC 6376 §3.7: the signature field itself, b= emptied, hashed last without its CRLF.
        digest.update(Self.strippedSignatureField(c.field, tags: tags,
                                                  canonicalization: signature.canonicalization.header))
        let headerHash = digest.finalize()
        guard key.isValidSignature(signature.signatureData, forDigest: headerHash) else {
            return .fail(DKIMError(.signatureMismatch,
                "signature did not verify: a signed header field was changed, or the key does not match"))
        }
        return .pass
    }

    /// The canonical form of a DKIM-Signature field with the value of its `b=` tag removed,
    /// "including all surrounding whitespace" (RFC 6376 §3.7), using the parsed tag's byte
    /// range rather than a pattern search.
    public static func strippedSignatureField(_ field: HeaderField, tags: TagList,
                                              canonicalization: Canonicalization) -> [UInt8] {
        var bytes = field.bytes
        if let b = tags.tag("b") {
            bytes.removeSubrange(b.valueStart..<b.specEnd)
        }
        var out: [UInt8] = []
        canonicalization.canonicalizeHeader(bytes, terminated: false, into: &out)
        return out
    }

    private func fetchKey(for signature: DKIMSignature, keys: (String) -> TXTLookupResult)
        -> Result<(KeyRecord, any DKIMVerifyingKey), DKIMError> {
        let name = signature.keyQueryName
        let records: [String]
        switch keys(name) {
        case .nameNotFound:
            return .failure(DKIMError(.keyNotFound, "no key for signature: \(name) does not exist (RFC 6376 §6.1.2)"))
        case .temporaryFailure(let reason):
            return .failure(DKIMError(.keyUnavailable,
                                      "key unavailable: the lookup of \(name) failed temporarily (\(reason))"))
        case .records(let list):
            records = list
        }
        guard !records.isEmpty else {
            return .failure(DKIMError(.keyNotFound,
                                      "no key for signature: \(name) has no TXT record (RFC 6376 §6.1.2)"))
        }
        // Several TXT records at one name are undefined (§3.6.2.2): use the first that parses.
        var record: KeyRecord?
        var firstError: DKIMError?
        for text in records {
            do {
                record = try KeyRecord(parsing: text)
                break
            } catch {
                firstError = firstError ?? error
            }
        }
        guard let record else {
            let e = firstError ?? DKIMError(.keySyntax, "unparseable key record")
            return .failure(DKIMError(.keySyntax, "the key record at \(name) is invalid: \(e.reason)"))
        }
        if let error = Self.checkRestrictions(record, signature: signature) { return .failure(error) }
        let key: any DKIMVerifyingKey
        do {
            key = try crypto.verifyingKey(type: record.keyType, publicKeyData: record.publicKeyData)
        } catch {
            return .failure(DKIMError(.keyUnusable, "the key at \(name) is unusable: \(error.reason)"))
        }
        if record.keyType == .rsa {
            // RFC 8301 §3.2: RSA keys below 1024 bits MUST NOT be considered valid.
            if key.bitCount < configuration.minimumRSAKeyBits {
                return .failure(DKIMError(.keyTooSmall,
                    "the RSA key at \(name) has \(key.bitCount) bits; fewer than \(configuration.minimumRSAKeyBits) "
                    + "are never valid (RFC 8301 §3.2)"))
            }
            if key.bitCount > configuration.maximumRSAKeyBits {
                return .failure(DKIMError(.keyTooLarge,
                    "the RSA key at \(name) has \(key.bitCount) bits; more than \(configuration.maximumRSAKeyBits) "
                    + "are refused (CPU cost)"))
            }
        }
        return .success((record, key))
    }

    /// The key record's restrictions (RFC 6376 §3.6.1, §6.1.2).
    static func checkRestrictions(_ record: KeyRecord, signature: DKIMSignature) -> DKIMError? {
        let name = signature.keyQueryName
        if record.isRevoked {
            return DKIMError(.keyRevoked, "the key at \(name) has been revoked (empty p=) (RFC 6376 §3.6.1)")
        }
        if record.keyType != signature.algorithm.keyType {
            return DKIMError(.keyTypeMismatch,
                "a=\(signature.algorithm.rawValue) needs a k=\(signature.algorithm.keyType.rawValue) key, "
                + "but \(name) publishes k=\(record.keyType.rawValue)")
        }
        if let hashes = record.hashAlgorithms, !hashes.contains(signature.algorithm.hashName) {
            return DKIMError(.keyHashNotAllowed,
                "the key at \(name) allows only h=\(hashes.joined(separator: ":")), "
                + "not \(signature.algorithm.hashName) (RFC 6376 §3.6.1)")
        }
        if let services = record.serviceTypes, !services.contains("*"), !services.contains("email") {
            return DKIMError(.keyServiceNotAllowed,
                "the key at \(name) is for s=\(services.joined(separator: ":")), not email (RFC 6376 §3.6.1)")
        }
        // RFC 6376 §3.6.1 t=s: the i= domain must be d= exactly, not a subdomain.
        if record.requiresStrictIdentity, signature.identityDomain.lowercased() != signature.domain.lowercased() {
            return DKIMError(.keyStrictIdentity,
                "the key at \(name) has t=s, so i= must be in \(signature.domain) itself, "
                + "not \(signature.identityDomain) (RFC 6376 §3.6.1)")
        }
        return nil
    }
}
