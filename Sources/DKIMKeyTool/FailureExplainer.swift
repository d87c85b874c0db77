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
            out.append("what failed: the body hash — the body was changed after signing; "
                + "the signed header fields may be intact")
            if let signature = v.signature { out += bodyCulprits(signature) }
        case .signatureMismatch:
            out.append("what failed: the header hash — the body is intact (bh= matches), "
                + "but the signature over the header fields does not verify")
            if let signature = v.signature {
                let copied = copiedFieldChanges(signature)
                var culprits = headerCulprits(signature, index: v.index, keyRecord: v.keyRecord)
                // z= named the changed fields: the guess that none of the usual rewrites explains it is moot.
                if copied.count > 1 { culprits.removeAll { $0.hasPrefix("no re-folding or added field explains it") } }
                out += copied + culprits
            }
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
            if bodyHash(candidate, signature) == signature.bodyHash {
                found.append("likely culprit: " + transform.finding)
            }
        }
        if let cut = BodyTransforms.prefixMatching(body.read, signature: signature, hash: bodyHash) {
            found.append("likely culprit: content appended after signing (a list footer or disclaimer): "
                + "the first \(cut) bytes of the body pass; everything after them was added")
        }
        if found.isEmpty {
            let tried = (BodyTransforms.all.map(\.name) + ["an appended footer"]).joined(separator: ", ")
            found.append("no common transformation (\(tried)) explains it: the text itself was changed")
            if signature.canonicalization.body == .simple {
                found.append("hint: c=.../simple breaks on any whitespace change; "
                    + "relaxed body canonicalization is more robust")
            }
        }
        return found
    }

    // MARK: Headers

    /// What `z=` (the signed fields as the signer copied them, RFC 6376 §3.5) says changed: each
    /// signed instance compared with the one h= picks now, under the signature's header
    /// canonicalization, with the old and the new value.
    private func copiedFieldChanges(_ signature: DKIMSignature) -> [String] {
        guard let copies = signature.copiedHeaders else { return [] }
        let headers = parse().headers
        var picker = HeaderFieldPicker(headers)
        let now = picker.pick(signature.signedHeaderNames).map { headers[$0] }
        let c = signature.canonicalization.header
        func canonical(_ f: HeaderField, _ c: Canonicalization) -> [UInt8] {
            var out: [UInt8] = []
            c.canonicalizeHeader(f.bytes, into: &out)
            return out
        }
        func shown(_ f: HeaderField) -> String {
            let value = String(decoding: f.rawValue, as: UTF8.self)
            return "\"" + (value.count > 200 ? String(value.prefix(200)) + "…" : value) + "\""
        }
        var names: [String] = []
        for n in signature.signedHeaderNames.map({ $0.lowercased() }) where !names.contains(n) { names.append(n) }
        var lines: [String] = []
        for name in names {
            let old = copies.filter { $0.name.lowercased() == name }.map(\.field)
            let new = now.filter { $0.lowercasedName == name }
            for k in 0..<max(old.count, new.count) {
                switch (k < old.count ? old[k] : nil, k < new.count ? new[k] : nil) {
                case (let o?, let n?) where canonical(o, c) != canonical(n, c):
                    let whitespace = canonical(o, .relaxed) == canonical(n, .relaxed)
                        ? " (only spacing, folding or the name's case: relaxed header canonicalization would "
                            + "survive it)"
                        : ""
                    lines.append("changed after signing: \(n.name): was \(shown(o)), now \(shown(n))\(whitespace)")
                case (let o?, nil):
                    lines.append("removed after signing: \(o.name): was \(shown(o))")
                case (nil, let n?):
                    lines.append("added after signing: \(n.name): \(shown(n))")
                default:
                    break
                }
            }
        }
        guard !lines.isEmpty else {
            return ["z= (the signed header fields as the signer copied them) shows none changed under "
                + "\(c.rawValue) canonicalization: the header hash fails for another reason (the DKIM-Signature "
                + "field itself was changed, or another key signed)"]
        }
        return ["z= (the signed header fields as the signer copied them) shows what a relay changed:"] + lines
    }

    private func headerCulprits(_ signature: DKIMSignature, index: Int, keyRecord: KeyRecord?) -> [String] {
        let headers = parse().headers
        var found: [String] = []
        let sigFields = headers.filter { $0.hasName("dkim-signature") }
        // The verification already holds the key record: no second lookup.
        guard index - 1 < sigFields.count, let record = keyRecord,
              let key = try? verifier.crypto.verifyingKey(type: record.keyType,
                                                          publicKeyData: record.publicKeyData) else {
            return ["the key could not be read again to test further"]
        }
        let field = sigFields[index - 1]
        func verifies(_ canonicalization: Canonicalization, _ fields: [HeaderField]) -> Bool {
            guard let input = try? HeaderHashInput.input(fields, signatureField: field,
                                                         canonicalization: canonicalization) else {
                return false
            }
            return key.isValidSignature(signature.signatureData, forDigest: sha256(input))
        }
        if signature.canonicalization.header == .simple {
            // Undo the common rewrites of relays, one kind at a time, and see if the signature returns.
            for (label, rewrite) in HeaderTransforms.all {
                let rewritten = headers.map {
                    $0.hasName("dkim-signature") ? $0 : HeaderField(bytes: rewrite($0.bytes))
                }
                if rewritten != headers && verifies(.simple, rewritten) {
                    found.append("likely culprit: a relay changed a signed header field (\(label)); "
                        + "relaxed header canonicalization (c=relaxed/...) would have survived it")
                }
            }
        }
        // Fields added after signing: a signed name present more often than h= lists it.
        var listed: [String: Int] = [:]
        for n in signature.signedHeaderNames { listed[n.lowercased(), default: 0] += 1 }
        var present: [String: Int] = [:]
        for f in headers { present[f.lowercasedName, default: 0] += 1 }
        for (name, count) in listed where (present[name] ?? 0) > count {
            found.append("note: \(name) appears \(present[name]!) times but is signed \(count) times: "
                + "an instance was added after signing (RFC 6376 §8.15)")
        }
        // A signed field removed, or one changed: try removing each unsigned-looking extra field.
        for (i, f) in headers.enumerated() where listed[f.lowercasedName] != nil && !f.hasName("dkim-signature") {
            var fewer = headers
            fewer.remove(at: i)
            if verifies(signature.canonicalization.header, fewer) {
                found.append("likely culprit: the field \"\(f.name)\" (header line \(i + 1)) was added after signing; "
                    + "without it the signature verifies")
            }
        }
        if signature.canonicalization.header == .simple && !found.contains(where: { $0.contains("relaxed") }) {
            found.append("hint: c=simple/... header canonicalization breaks on any re-folding or re-spacing "
                + "of a signed field; relaxed/... survives it")
        }
        if found.isEmpty {
            found.append("no re-folding or added field explains it: a signed header field "
                + "(\(Set(signature.signedHeaderNames.map { $0.lowercased() }).sorted().joined(separator: ", "))) "
                + "was changed, or the published key is not the one that signed (rotated key?)")
        }
        return found
    }
}
