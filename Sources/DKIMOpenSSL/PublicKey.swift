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
            try Self.checkExponent(of: key)
        }
        self.keyType = type
    }

    /// The largest RSA public exponent accepted, in bits.
    ///
    /// A verification costs one modular exponentiation by e, so its CPU grows with e's size:
    /// a 3072-bit key whose exponent has 3071 bits costs ~300 times an e=65537 key. Real keys use
    /// 65537 (17 bits; RFC 8017 §3.1 allows any odd e from 3 to n-1, and NIST SP 800-56B caps it
    /// at 2^256), so e above 2^32 is refused and the verification CPU stays bounded by the
    /// modulus cap alone.
    public static let maximumExponentBits = 32

    /// RFC 8017 §3.1: e is odd and at least 3 (an even e has no inverse modulo λ(n), and e=1
    /// "signs" every message as itself); above `maximumExponentBits` it is refused for CPU.
    static func checkExponent(of key: OpenSSLKey) throws(DKIMError) {
        guard let e = key.rsaPublicExponent else {
            throw DKIMError(.keyUnusable, "the RSA public exponent cannot be read from p=")
        }
        if e.bits > maximumExponentBits {
            throw DKIMError(.keyExponentUnusable, "the RSA public exponent has \(e.bits) bits; at most "
                + "\(maximumExponentBits) are accepted (CPU cost; real keys use 65537)")
        }
        guard let value = e.value, e.isOdd, value >= 3 else {
            throw DKIMError(.keyExponentUnusable, "the RSA public exponent is \(e.value.map(String.init) ?? "?"), "
                + "which is not a valid RSA exponent (it must be odd and at least 3, RFC 8017 §3.1)")
        }
    }

    public var bitCount: Int { key.bitCount }

    /// The key's `p=` bytes.
    public var publicKeyData: [UInt8] { key.publicKeyData }

    public func isValidSignature(_ signature: [UInt8], forDigest digest: [UInt8]) -> Bool {
        key.verify(signature: signature, digest: digest)
    }
}
