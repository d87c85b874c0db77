import DKIM

/// Whether a signing key is proven published: what the published-key guard of the milter and
/// `dkimkey rotate` conclude from a lookup of `SELECTOR._domainkey.DOMAIN`, judged as
/// `dkimkey check` judges it (`KeyCheck.judge`).
public enum KeyPublication: String, Sendable, CaseIterable, Codable {
    /// The record's key is the public half of the private key.
    case published
    /// No TXT record at the name.
    case missing
    /// A record is there, but not this key (another key, truncated, pasted quotes, wrong k=…).
    case mismatched
    /// The record publishes the key as revoked (empty `p=`, RFC 6376 §3.6.1).
    case revoked
    /// DNS did not answer: nothing learned (never demotes a key that was published).
    case unknown
}

extension KeyCheck {
    /// What a lookup says about a key, and, when it is not published, what to do: the exact
    /// record to publish, or what differs.
    public static func publication(selector: String, domain: String, lookup: TXTLookupResult,
                                   privateKey: any DKIMSigningKey, keyPath: String,
                                   crypto: any DKIMCryptoProvider) -> (state: KeyPublication, advice: String) {
        let record = "v=DKIM1; k=\(privateKey.keyType.rawValue); p=" + Base64.encode(privateKey.publicKeyData)
        let name = queryName(selector: selector, domain: domain)
        switch lookup {
        case .temporaryFailure(let reason):
            return (.unknown, "the lookup of \(name) failed (\(reason)); the key keeps its last known state")
        case .nameNotFound, .records([]):
            return (.missing, "no record at \(name): publish TXT \(name) \"\(record)\"")
        case .records:
            let report = judge(selector: selector, domain: domain, lookup: lookup, privateKey: privateKey,
                               keyPath: keyPath, crypto: crypto)
            if report.matches { return (.published, "\(name) publishes this key") }
            if let text = report.record, let parsed = try? KeyRecord(parsing: text), parsed.isRevoked {
                return (.revoked, "\(name) publishes the key as revoked (p= is empty); to sign with it again, "
                    + "publish TXT \(name) \"\(record)\"")
            }
            let why = report.checks.first { $0.status == .fail }?.message ?? "the record holds another key"
            return (.mismatched, "\(name) does not publish this key: \(why)")
        }
    }
}
