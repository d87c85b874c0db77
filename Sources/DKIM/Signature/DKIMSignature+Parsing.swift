extension DKIMSignature {
    /// The tags RFC 6376 §6.1.1 requires in every signature.
    static let requiredTags = ["v", "a", "b", "bh", "d", "h", "s"]

    /// More `h=` entries than this are refused (a signature over hundreds of fields is an attack
    /// on the verifier's time, not a mail).
    public static let maximumSignedHeaders = 256

    /// Parses and checks a DKIM-Signature field value (RFC 6376 §3.5, §6.1.1).
    ///
    /// Throws a `DKIMError` whose code says which rule the signature breaks; every such
    /// signature is a PERMFAIL (`permerror`). Time checks are left to the verifier.
    public init(parsing tags: TagList) throws(DKIMError) {
        for name in Self.requiredTags where tags[name] == nil {
            throw DKIMError(.missingRequiredTag, "the required tag \(name)= is missing (RFC 6376 §6.1.1)")
        }
        let v = tags["v"]!
        guard v == "1" else {
            throw DKIMError(.unsupportedVersion,
                "v=\(Printable.escaped(v, limit: 40)) is not a supported version; only v=1 exists (RFC 6376 §6.1.1)")
        }
        // RFC 6376 §3.5 and §6.1.1: a value outside its tag's grammar makes the signature PERMFAIL.
        // b= and bh= are the exception: malformed base64 is judged a failed verification, as the
        // reference verifiers do (corpus tamper-bad-base64-*), so it is left to the verifier.
        for tag in tags.tags {
            guard let known = SignatureTag(rawValue: tag.name), known != .signature, known != .bodyHash else {
                continue
            }
            if !known.isWellFormed(tag.value) { throw Self.malformed(known, tag.value) }
        }
        let a = tags["a"]!.lowercased()
        let algorithm: SignatureAlgorithm
        if let known = SignatureAlgorithm(rawValue: a) {
            algorithm = known
        } else if a == "rsa-sha1" {
            // A bh= that is not a SHA-1 digest at all can never match the body: report the
            // failed body hash, as the reference verifiers do; otherwise refuse the algorithm.
            if let bh = Base64.decode(tags["bh"]!), bh.count != 20 {
                throw DKIMError(.bodyHashMismatch,
                    "a=rsa-sha1 but bh= holds \(bh.count) bytes, not a SHA-1 digest: the body hash cannot match")
            }
            throw DKIMError(.forbiddenAlgorithm, "a=rsa-sha1 must not be used for verifying (RFC 8301 §3.1)")
        } else {
            throw DKIMError(.unsupportedAlgorithm, "a=\(a) is not a known signing algorithm")
        }
        let d = tags["d"]!
        let s = tags["s"]!

        var canonicalization = CanonicalizationPair.simpleSimple
        if let c = tags["c"] {
            guard let pair = CanonicalizationPair(tagValue: c.lowercased()) else {
                throw DKIMError(.unsupportedCanonicalization, "c=\(c) is not a known canonicalization")
            }
            canonicalization = pair
        }

        // An empty entry (h=from::to) names no field and selects nothing, like an absent field.
        // Split on the byte, not on Characters: the grammar is ASCII, and grapheme breaking is slow.
        let headerNames = TagValueSyntax.listElements(Array(tags["h"]!.utf8), separator: ASCII.colon).map(ASCII.string)
        guard headerNames.count <= Self.maximumSignedHeaders else {
            throw DKIMError(.signatureSyntax,
                "h= lists \(headerNames.count) fields; at most \(Self.maximumSignedHeaders) are accepted")
        }
        // RFC 6376 §5.4 and §6.1.1: the From header field MUST be signed.
        guard headerNames.contains(where: { $0.lowercased() == "from" }) else {
            throw DKIMError(.fromNotSigned, "h= does not include From (RFC 6376 §6.1.1)")
        }

        if let q = tags["q"] {
            let methods = TagValueSyntax.listElements(Array(q.utf8), separator: ASCII.colon)
                .map { ASCII.string($0).lowercased() }
            guard methods.contains("dns/txt") else {
                throw DKIMError(.unsupportedQueryMethod,
                    "q=\(Printable.escaped(q, limit: 80)) does not offer dns/txt (RFC 6376 §3.5)")
            }
        }

        var identity: String?
        if let i = tags["i"] {
            // Well-formed (checked above): decode the dkim-quoted-printable value (RFC 6376 §3.5).
            let (local, iDomain) = SignatureTag.decodedIdentity(i)!
            let decoded = local + "@" + iDomain
            // RFC 6376 §6.1.1: the i= domain must be d= or a subdomain of it.
            guard Self.isSameOrSubdomain(iDomain, of: d) else {
                throw DKIMError(.identityMismatch,
                    "i=\(Printable.escaped(decoded)) is not in d=\(d) or a subdomain of it (RFC 6376 §6.1.1)")
            }
            identity = decoded
        }

        let bodyLength = Self.number(tags["l"])
        let timestamp = Self.number(tags["t"])
        let expiration = Self.number(tags["x"])
        // RFC 6376 §3.5: x= MUST be greater than t=. Such a signature is malformed, not expired.
        if let t = timestamp, let x = expiration, x <= t {
            throw DKIMError(.expirationNotAfterTimestamp,
                "x=\(x) is not later than t=\(t): the signature is malformed (RFC 6376 §3.5)")
        }

        let bRaw = tags["b"]!
        guard bRaw.utf8.contains(where: { !ASCII.isFWS($0) }) else {
            throw DKIMError(.emptySignature, "b= is empty: there is no signature to verify")
        }
        // Malformed base64 is reported as a failed verification by the verifier, not here.
        let bodyHash = Base64.decode(tags["bh"]!) ?? []
        let signatureData = Base64.decode(bRaw) ?? []

        // z= is well-formed (checked above); its copies are kept for diagnosis only (RFC 6376 §3.5).
        let copies = tags["z"].flatMap(CopiedHeaderField.parse(tagValue:))

        self.init(algorithm: algorithm, domain: d, selector: s, canonicalization: canonicalization,
                  signedHeaderNames: headerNames, bodyHash: bodyHash, signatureData: signatureData,
                  identity: identity, bodyLength: bodyLength.map { Int(clamping: $0) },
                  timestamp: timestamp.map { Int(clamping: $0) }, expiration: expiration.map { Int(clamping: $0) },
                  copiedHeaders: copies)
    }

    /// Parses a DKIM-Signature header field.
    public init(parsing field: HeaderField) throws(DKIMError) {
        guard let colon = field.colonIndex else {
            throw DKIMError(.signatureSyntax, "the DKIM-Signature field has no colon")
        }
        try self.init(parsing: TagList(parsing: field.bytes, range: (colon + 1)..<field.bytes.count))
    }

    /// A well-formed decimal tag value (checked by `SignatureTag`); too large for 64 bits is the maximum.
    private static func number(_ value: String?) -> UInt64? {
        value.map { UInt64($0) ?? UInt64.max }
    }

    /// The error for a tag value outside its grammar, with the clearest reason for each tag.
    static func malformed(_ tag: SignatureTag, _ value: String) -> DKIMError {
        switch tag {
        case .identity:
            return DKIMError(.signatureSyntax, "i=\(Printable.escaped(value, limit: 80)) is not an identity: "
                + "it must be [local-part] \"@\" domain, such as @example.com or user@example.com (RFC 6376 §3.5)")
        default:
            return tag.malformed(value)
        }
    }

    /// Whether `name` is `domain` or one of its subdomains, ignoring case.
    static func isSameOrSubdomain(_ name: String, of domain: String) -> Bool {
        let n = name.lowercased()
        let d = domain.lowercased()
        return n == d || n.hasSuffix("." + d)
    }
}
