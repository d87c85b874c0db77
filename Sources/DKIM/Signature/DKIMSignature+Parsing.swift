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
            throw DKIMError(.unsupportedVersion, "v=\(v) is not a supported version; only v=1 exists (RFC 6376 §6.1.1)")
        }
        let a = tags["a"]!.removingFWS.lowercased()
        let algorithm: SignatureAlgorithm
        if let known = SignatureAlgorithm(rawValue: a) {
            algorithm = known
        } else if a == "rsa-sha1" {
            // A bh= that is not a SHA-1 digest at all can never match the body: report the
            // failed body hash, as the reference verifiers do; otherwise refuse the algorithm.
            if let bh = Base64.decode(tags["bh"]!), bh.count != 20 {
                throw DKIMError(.bodyHashMismatch, "a=rsa-sha1 but bh= holds \(bh.count) bytes, not a SHA-1 digest: the body hash cannot match")
            }
            throw DKIMError(.forbiddenAlgorithm, "a=rsa-sha1 must not be used for verifying (RFC 8301 §3.1)")
        } else {
            throw DKIMError(.unsupportedAlgorithm, "a=\(a) is not a known signing algorithm")
        }
        let d = tags["d"]!.removingFWS
        guard !d.isEmpty else { throw DKIMError(.signatureSyntax, "d= is empty") }
        let s = tags["s"]!.removingFWS
        guard !s.isEmpty else { throw DKIMError(.signatureSyntax, "s= is empty") }

        var canonicalization = CanonicalizationPair.simpleSimple
        if let c = tags["c"] {
            guard let pair = CanonicalizationPair(tagValue: c.removingFWS.lowercased()) else {
                throw DKIMError(.unsupportedCanonicalization, "c=\(c) is not a known canonicalization")
            }
            canonicalization = pair
        }

        // An empty entry (h=from::to) names no field and selects nothing, like an absent field.
        // Split on the byte, not on Characters: the grammar is ASCII, and grapheme breaking is slow.
        let headerNames = tags["h"]!.removingFWS.utf8.split(separator: ASCII.colon, omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
        guard headerNames.count <= Self.maximumSignedHeaders else {
            throw DKIMError(.signatureSyntax, "h= lists \(headerNames.count) fields; at most \(Self.maximumSignedHeaders) are accepted")
        }
        // RFC 6376 §5.4 and §6.1.1: the From header field MUST be signed.
        guard headerNames.contains(where: { $0.lowercased() == "from" }) else {
            throw DKIMError(.fromNotSigned, "h= does not include From (RFC 6376 §6.1.1)")
        }

        if let q = tags["q"] {
            let methods = q.removingFWS.utf8.split(separator: ASCII.colon).map { String(decoding: $0, as: UTF8.self).lowercased() }
            guard methods.contains(where: { $0 == "dns/txt" || $0.hasPrefix("dns/txt/") }) else {
                throw DKIMError(.unsupportedQueryMethod, "q=\(q) does not offer dns/txt (RFC 6376 §3.5)")
            }
        }

        var identity: String?
        if let i = tags["i"] {
            let value = i.removingFWS
            guard let at = value.lastIndex(of: "@") else {
                throw DKIMError(.signatureSyntax, "i=\(value) has no @")
            }
            let iDomain = value[value.index(after: at)...].lowercased()
            let dLower = d.lowercased()
            // RFC 6376 §6.1.1: the i= domain must be d= or a subdomain of it.
            guard iDomain == dLower || iDomain.hasSuffix("." + dLower) else {
                throw DKIMError(.identityMismatch, "i= domain \(iDomain) is not \(dLower) or a subdomain of it (RFC 6376 §6.1.1)")
            }
            identity = value
        }

        let bodyLength = try Self.number(tags, "l", maxDigits: 76)
        let timestamp = try Self.number(tags, "t", maxDigits: 12)
        let expiration = try Self.number(tags, "x", maxDigits: 12)
        // RFC 6376 §3.5: x= MUST be greater than t=.
        if let t = timestamp, let x = expiration, x <= t {
            throw DKIMError(.signatureExpired, "x=\(x) is not later than t=\(t) (RFC 6376 §3.5)")
        }

        let bRaw = tags["b"]!
        guard bRaw.utf8.contains(where: { !ASCII.isFWS($0) }) else {
            throw DKIMError(.emptySignature, "b= is empty: there is no signature to verify")
        }
        // Malformed base64 is reported as a failed verification by the verifier, not here.
        let bodyHash = Base64.decode(tags["bh"]!) ?? []
        let signatureData = Base64.decode(bRaw) ?? []

        self.init(algorithm: algorithm, domain: d, selector: s, canonicalization: canonicalization,
                  signedHeaderNames: headerNames, bodyHash: bodyHash, signatureData: signatureData,
                  identity: identity, bodyLength: bodyLength.map { Int(clamping: $0) },
                  timestamp: timestamp.map { Int(clamping: $0) }, expiration: expiration.map { Int(clamping: $0) })
    }

    /// Parses a DKIM-Signature header field.
    public init(parsing field: HeaderField) throws(DKIMError) {
        guard let colon = field.colonIndex else {
            throw DKIMError(.signatureSyntax, "the DKIM-Signature field has no colon")
        }
        try self.init(parsing: TagList(parsing: field.bytes, range: (colon + 1)..<field.bytes.count))
    }

    private static func number(_ tags: TagList, _ name: String, maxDigits: Int) throws(DKIMError) -> UInt64? {
        guard let raw = tags[name] else { return nil }
        let value = raw.removingFWS
        guard !value.isEmpty, value.utf8.count <= maxDigits, value.utf8.allSatisfy(ASCII.isDigit) else {
            throw DKIMError(.signatureSyntax, "\(name)=\(value) is not a decimal number of at most \(maxDigits) digits (RFC 6376 §3.5)")
        }
        return UInt64(value) ?? UInt64.max
    }
}
