internal import COpenSSL
import DKIM

/// A DKIM public key held by OpenSSL.
public final class PublicKey: DKIMVerifyingKey, @unchecked Sendable {
    let key: OpenSSLKey
    public let keyType: KeyRecord.KeyType

    /// Builds a key from a key record's `p=` bytes: SubjectPublicKeyInfo DER (or a bare
    /// PKCS#1 RSAPublicKey) for RSA, exactly 32 raw bytes for Ed25519 (RFC 8463 §4).
    public init(type: KeyRecord.KeyType, publicKeyData data: [UInt8]) throws(DKIMError) {
        defer { ERR_clear_error() }
        switch type {
        case .ed25519:
            guard data.count == 32, let pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, data, 32) else {
                throw DKIMError(.keyUnusable, "an Ed25519 key must be 32 bytes, p= holds \(data.count) (RFC 8463 §4)")
            }
            key = OpenSSLKey(pkey)
        case .rsa:
            let pkey: OpaquePointer? = data.withUnsafeBufferPointer { buffer in
                var p: UnsafePointer<UInt8>? = buffer.baseAddress
                if let k = d2i_PUBKEY(nil, &p, buffer.count) { return k }
                p = buffer.baseAddress
                return d2i_PublicKey(EVP_PKEY_RSA, nil, &p, buffer.count)
            }
            guard let pkey else {
                throw DKIMError(.keyUnusable, "p= is not an RSA public key (SubjectPublicKeyInfo)")
            }
            key = OpenSSLKey(pkey)
            guard key.keyType == .rsa else {
                throw DKIMError(.keyUnusable, "p= holds a key that is not RSA, but the record says k=rsa")
            }
        }
        self.keyType = type
    }

    public var bitCount: Int { key.bitCount }

    /// The key's `p=` bytes.
    public var publicKeyData: [UInt8] { key.publicKeyData }

    public func isValidSignature(_ signature: [UInt8], forDigest digest: [UInt8]) -> Bool {
        key.verify(signature: signature, digest: digest)
    }
}
