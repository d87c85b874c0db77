/// Where a message's signing keys come from: the key store loaded at start (`KeyStore`: files)
/// or looked up when needed (`LazyKeyStore`: datasets such as PostgreSQL tables).
public protocol SigningKeySource: Sendable {
    /// The keys to sign mail from `address` with.
    /// - Throws: a temporary `DatasetError` when the source cannot answer in time.
    func signingKeys(forAuthor address: String) throws(DatasetError) -> [SigningKey]

    /// The keys when known without I/O (a store in memory, a warm cache); nil when a lookup would
    /// be needed. For remarks that must not cost a query, such as the InternalHosts hint.
    func knownSigningKeys(forAuthor address: String) -> [SigningKey]?
}

extension KeyStore: SigningKeySource {
    public func signingKeys(forAuthor address: String) throws(DatasetError) -> [SigningKey] {
        keys(forAuthor: address)
    }

    public func knownSigningKeys(forAuthor address: String) -> [SigningKey]? {
        keys(forAuthor: address)
    }
}

extension LazyKeyStore: SigningKeySource {
    public func signingKeys(forAuthor address: String) throws(DatasetError) -> [SigningKey] {
        try keys(forAuthor: address)
    }
}
