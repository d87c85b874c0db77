import DKIM

/// Signs like an attacker: any `d=`, `s=` or `c=` text goes into the signature as given, with a
/// valid signature over it, so tests can show what the verifier and the milter make of values
/// our own signer refuses to write.
public enum HostileSigner {
    /// The message with a DKIM-Signature on top whose tags are `tags` (`b=` and `bh=` are added:
    /// relaxed/relaxed over From, To and Subject).
    public static func sign(_ message: [UInt8], tags: String, key: any DKIMSigningKey,
                            crypto: any DKIMCryptoProvider) throws -> [UInt8] {
        var headers: [HeaderField] = []
        var body = BodyHasher(.relaxed, digest: crypto.makeSHA256())
        try MessageParser.parseWhole(message) { event in
            switch event {
            case .header(let f): headers.append(f)
            case .endOfHeaders: break
            case .body(let chunk): body.update(chunk)
            }
        }
        let unsigned = "DKIM-Signature: \(tags); c=relaxed/relaxed; h=from:to:subject; bh=\(Base64.encode(body.finalize())); b="
        var input = HeaderHashInput.signedFields(headers, names: ["from", "to", "subject"], canonicalization: .relaxed)
        Canonicalization.relaxed.canonicalizeHeader(Array(unsigned.utf8), terminated: false, into: &input)
        var digest = crypto.makeSHA256()
        digest.update(input)
        let b = try key.signature(forDigest: digest.finalize())
        return Array((unsigned + Base64.encode(b) + "\r\n").utf8) + message
    }
}
