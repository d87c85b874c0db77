import DKIM

/// `dkimkey verify --explain`: what failed (body hash, header hash, key, policy) and which
/// common transformations in transit would make the signature pass again, found by re-hashing.
struct FailureExplainer {
    let message: [UInt8]
    let verifier: DKIMVerifier

    private struct Parsed {
        var headers: [HeaderField] = []
        var body = BodyTransforms.Body(read: [], stored: [])
    }

    private func parse() -> Parsed {
        var parsed = Parsed()
        func handle(_ e: MessageParser.Event) {
            switch e {
            case .header(let f): parsed.headers.append(f)
            case .endOfHeaders: break
            case .body(let chunk): parsed.body.read.append(contentsOf: chunk)
            }
        }
        try? MessageParser.parseWhole(message, handle)
        parsed.body.stored = BodyTransforms.storedBody(of: message)
        return parsed
    }

    private func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var digest = verifier.crypto.makeSHA256()
        digest.update(bytes)
        return digest.finalize()
    }

    func explain(_ v: SignatureVerification) -> [String] {
        guard let error = v.result.error else { return [] }
        var out: [String] = []
        switch error.code {
        case .bodyHashMismatch:
            out.append("what failed: the body hash — the body was changed after signing; the signed header fields may be intact")
            if let signature = v.signature { out += bodyCulprits(signature) }
        case .signatureMismatch:
            out.append("what failed: the header hash — the body is intact (bh= matches), but the signature over the header fields does not verify")
            if let signature = v.signature { out += headerCulprits(signature, index: v.index, keyRecord: v.keyRecord) }
        case .keyNotFound, .keyUnavailable, .keySyntax, .keyRevoked, .keyUnusable, .keyTypeMismatch,
             .keyHashNotAllowed, .keyServiceNotAllowed, .keyStrictIdentity:
            out.append("what failed: the key — \(error.reason)")
            if let s = v.signature { out.append("check the record with: dig +short TXT \(s.keyQueryName)") }
        case .keyTooSmall, .keyTooLarge, .forbiddenAlgorithm, .signatureExpired, .timestampInFuture:
            out.append("what failed: policy — \(error.reason)")
        case .tooManySignatures:
            out.append("not evaluated — \(error.reason)")
        default:
            out.append("what failed: the signature itself is malformed — \(error.reason)")
        }
        return out
    }

    // MARK: Body

    private func bodyHash(_ body: [UInt8], _ signature: DKIMSignature) -> [UInt8] {
        var hasher = BodyHasher(signature.canonicalization.body, lengthLimit: signature.bodyLength,
                                digest: verifier.crypto.makeSHA256())
        hasher.update(body)
        return hasher.finalize()
    }

    private func bodyCulprits(_ signature: DKIMSignature) -> [String] {
        let body = parse().body
        var found: [String] = []
        for transform in BodyTransforms.all {
            guard let candidate = transform.apply(body), candidate != body.read else { continue }
            if bodyHash(candidate, signature) == signature.bodyHash { found.append("likely culprit: " + transform.finding) }
        }
        if let cut = BodyTransforms.prefixMatching(body.read, signature: signature, hash: bodyHash) {
            found.append("likely culprit: content appended after signing (a list footer or disclaimer): the first \(cut) "
                + "bytes of the body pass; everything after them was added")
        }
        if found.isEmpty {
            let tried = (BodyTransforms.all.map(\.name) + ["an appended footer"]).joined(separator: ", ")
            found.append("no common transformation (\(tried)) explains it: the text itself was changed")
            if signature.canonicalization.body == .simple {
                found.append("hint: c=.../simple breaks on any whitespace change; relaxed body canonicalization is more robust")
            }
        }
        return found
    }

    // MARK: Headers

    private func headerCulprits(_ signature: DKIMSignature, index: Int, keyRecord: KeyRecord?) -> [String] {
        let headers = parse().headers
        var found: [String] = []
        let sigFields = headers.filter { $0.hasName("dkim-signature") }
        // The verification already holds the key record: no second lookup.
        guard index - 1 < sigFields.count, let record = keyRecord,
              let key = try? verifier.crypto.verifyingKey(type: record.keyType, publicKeyData: record.publicKeyData) else {
            return ["the key could not be read again to test further"]
        }
        let field = sigFields[index - 1]
        func verifies(_ canonicalization: Canonicalization, _ fields: [HeaderField]) -> Bool {
            guard let input = try? HeaderHashInput.input(fields, signatureField: field, canonicalization: canonicalization) else {
                return false
            }
            return key.isValidSignature(signature.signatureData, forDigest: sha256(input))
        }
        if signature.canonicalization.header == .simple {
            // Undo the common rewrites of relays, one kind at a time, and see if the signature returns.
            for (label, rewrite) in HeaderTransforms.all {
                let rewritten = headers.map { $0.hasName("dkim-signature") ? $0 : HeaderField(bytes: rewrite($0.bytes)) }
                if rewritten != headers && verifies(.simple, rewritten) {
                    found.append("likely culprit: a relay changed a signed header field (\(label)); relaxed header canonicalization (c=relaxed/...) would have survived it")
                }
            }
        }
        // Fields added after signing: a signed name present more often than h= lists it.
        var listed: [String: Int] = [:]
        for n in signature.signedHeaderNames { listed[n.lowercased(), default: 0] += 1 }
        var present: [String: Int] = [:]
        for f in headers { present[f.lowercasedName, default: 0] += 1 }
        for (name, count) in listed where (present[name] ?? 0) > count {
            found.append("note: \(name) appears \(present[name]!) times but is signed \(count) times: an instance was added after signing (RFC 6376 §8.15)")
        }
        // A signed field removed, or one changed: try removing each unsigned-looking extra field.
        for (i, f) in headers.enumerated() where listed[f.lowercasedName] != nil && !f.hasName("dkim-signature") {
            var fewer = headers
            fewer.remove(at: i)
            if verifies(signature.canonicalization.header, fewer) {
                found.append("likely culprit: the field \"\(f.name)\" (header line \(i + 1)) was added after signing; without it the signature verifies")
            }
        }
        if signature.canonicalization.header == .simple && !found.contains(where: { $0.contains("relaxed") }) {
            found.append("hint: c=simple/... header canonicalization breaks on any re-folding or re-spacing of a signed field; relaxed/... survives it")
        }
        if found.isEmpty {
            found.append("no re-folding or added field explains it: a signed header field (\(Set(signature.signedHeaderNames.map { $0.lowercased() }).sorted().joined(separator: ", "))) was changed, or the published key is not the one that signed (rotated key?)")
        }
        return found
    }
}
