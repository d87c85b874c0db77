/// A hash function fed in pieces (SHA-256 for every algorithm DKIM may use today).
public protocol IncrementalDigest {
    /// Adds bytes to the hash.
    mutating func update(_ bytes: UnsafeRawBufferPointer)
    /// Returns the digest. The digest must not be updated afterwards.
    mutating func finalize() -> [UInt8]
}

extension IncrementalDigest {
    /// Adds bytes to the hash.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }
}
