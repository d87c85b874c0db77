import DKIM

/// Signs like an attacker: any `d=`, `s=` or `c=` text goes into the signature as given, with a
/// valid signature over it, so tests can show what the verifier and the milter make of values
/// our own signer refuses to write.
public enum HostileSigner {
    /// The message with a DKIM-Signature on top whose tags are `tags` (`b=` and `bh=` are added:
    /// relaxed/relaxed over From, To and Subject).
    /// - Parameter bodyAsStored: hash the body bytes as they lie in `message`, bare LFs and all
    ///   (what a signer that skips RFC 6376 §5.3's conversion to CRLF does).
    public static func sign(_ message: [UInt8], tags: String, key: any DKIMSigningKey,
                            crypto: any DKIMCryptoProvider, bodyAsStored: Bool = false) throws -> [UInt8] {
        var headers: [HeaderField] = []
        var body = BodyHasher(.relaxed, digest: crypto.makeSHA256())
        var bodyStart = message.count
        try MessageParser.parseWhole(message) { event in
            switch event {
            case .header(let f): headers.append(f)
            case .endOfHeaders: break
            case .body(let chunk): if !bodyAsStored { body.update(chunk) }
            }
        }
        if bodyAsStored {
            var lineStart = 0
            for (i, b) in message.enumerated() where b == 0x0A {
                let line = message[lineStart..<i]
                if line.isEmpty || line.elementsEqual([0x0D]) { bodyStart = i + 1; break }
                lineStart = i + 1
            }
            body.update(Array(message[bodyStart...]))
        }
        let unsigned = "DKIM-Signature: \(tags); c=relaxed/relaxed; h=from:to:subject; "
            + "bh=\(Base64.encode(body.finalize())); b="
        var input = HeaderHashInput.signedFields(headers, names: ["from", "to", "subject"], canonicalization: .relaxed)
        Canonicalization.relaxed.canonicalizeHeader(Array(unsigned.utf8), terminated: false, into: &input)
        var digest = crypto.makeSHA256()
        digest.update(input)
        let b = try key.signature(forDigest: digest.finalize())
        return Array((unsigned + Base64.encode(b) + "\r\n").utf8) + message
    }
}
