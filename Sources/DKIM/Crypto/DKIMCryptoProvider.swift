/// A private key that makes DKIM signatures.
///
/// RSA keys sign with PKCS#1 v1.5 over the SHA-256 digest (RFC 6376 §3.3.1); Ed25519 keys
/// sign the 32-byte SHA-256 digest itself with PureEdDSA (RFC 8463 §3).
public protocol DKIMSigningKey: Sendable {
    /// The key's type.
    var keyType: KeyRecord.KeyType { get }
    /// The key size in bits (2048 for RSA-2048, 256 for Ed25519).
    var bitCount: Int { get }
    /// The public key as it goes into a key record's `p=` (SubjectPublicKeyInfo DER for
    /// RSA, the raw 32 bytes for Ed25519, RFC 8463 §4).
    var publicKeyData: [UInt8] { get }
    /// Signs a SHA-256 digest.
    func signature(forDigest digest: [UInt8]) throws(DKIMError) -> [UInt8]
}

/// A public key that checks DKIM signatures.
public protocol DKIMVerifyingKey: Sendable {
    var keyType: KeyRecord.KeyType { get }
    /// The public key in its canonical form (SubjectPublicKeyInfo DER for RSA, whatever form
    /// `p=` used; the raw 32 bytes for Ed25519), for comparing a published key with a private one.
    var publicKeyData: [UInt8] { get }
    var bitCount: Int { get }
    /// Whether `signature` is valid for the SHA-256 `digest`.
    func isValidSignature(_ signature: [UInt8], forDigest digest: [UInt8]) -> Bool
}

/// The cryptography the core needs, provided from outside (OpenSSL in production).
public protocol DKIMCryptoProvider: Sendable {
    /// A new SHA-256 hash.
    func makeSHA256() -> any IncrementalDigest
    /// Builds a public key from the bytes of a key record's `p=`.
    /// Throws `.keyUnusable` when the bytes are not a key of that type.
    func verifyingKey(type: KeyRecord.KeyType, publicKeyData: [UInt8]) throws(DKIMError) -> any DKIMVerifyingKey
}
