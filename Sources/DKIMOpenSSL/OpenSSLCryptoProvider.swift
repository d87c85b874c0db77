import DKIM

/// The core's cryptography, done by OpenSSL 3.
public struct OpenSSLCryptoProvider: DKIMCryptoProvider {
    public init() {}

    public func makeSHA256() -> any IncrementalDigest { SHA256Digest() }

    public func verifyingKey(type: KeyRecord.KeyType, publicKeyData: [UInt8]) throws(DKIMError) -> any DKIMVerifyingKey {
        try PublicKey(type: type, publicKeyData: publicKeyData)
    }
}
