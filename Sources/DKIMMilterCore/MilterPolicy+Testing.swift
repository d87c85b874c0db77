/// For tests and the fuzz harness (dkim-fuzz), which cannot reach KeyStore's internal initializer.
extension KeyStore {
    /// A key store that signs for each key's domain (no SigningTable, no subdomains, one signature).
    public static func byDomain(_ keys: [SigningKey]) -> KeyStore {
        var byDomain: [String: [SigningKey]] = [:]
        for k in keys { byDomain[k.domain.lowercased(), default: []].append(k) }
        return KeyStore(keys: byDomain, signingTable: nil, byDomain: true, subDomains: false, multipleSignatures: false)
    }
}
