internal import COpenSSL
import DKIM

/// An owned EVP_PKEY. Immutable after creation; OpenSSL 3 allows concurrent use for signing
/// and verifying, as every operation makes its own context.
final class OpenSSLKey: @unchecked Sendable {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { EVP_PKEY_free(pointer) }

    var keyType: KeyRecord.KeyType? {
        switch EVP_PKEY_get_base_id(pointer) {
        case EVP_PKEY_RSA: .rsa
        case EVP_PKEY_ED25519: .ed25519
        default: nil
        }
    }

    var bitCount: Int { Int(EVP_PKEY_get_bits(pointer)) }

    /// The RSA public exponent, as much of it as a check needs: its size in bits, whether it is
    /// odd, and its value when it fits 64 bits. Nil for a key that is not RSA.
    var rsaPublicExponent: (bits: Int, isOdd: Bool, value: UInt64?)? {
        guard keyType == .rsa else { return nil }
        var bn: OpaquePointer?
        guard EVP_PKEY_get_bn_param(pointer, OSSL_PKEY_PARAM_RSA_E, &bn) == 1, let bn else {
            ERR_clear_error()
            return nil
        }
        defer { BN_free(bn) }
        let bits = Int(BN_num_bits(bn))
        return (bits, BN_is_odd(bn) == 1, bits <= 64 ? UInt64(BN_get_word(bn)) : nil)
    }

    /// RSA PKCS#1 v1.5 over a SHA-256 digest, or Ed25519 (PureEdDSA) over the digest bytes (RFC 8463 §3).
    func sign(digest: [UInt8]) throws(DKIMError) -> [UInt8] {
        switch keyType {
        case .rsa:
            guard let ctx = EVP_PKEY_CTX_new(pointer, nil) else { throw failure("EVP_PKEY_CTX_new") }
            defer { EVP_PKEY_CTX_free(ctx) }
            guard EVP_PKEY_sign_init(ctx) == 1,
                  EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1,
                  EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 else { throw failure("RSA sign setup") }
            var length = 0
            guard EVP_PKEY_sign(ctx, nil, &length, digest, digest.count) == 1 else { throw failure("EVP_PKEY_sign") }
            var out = [UInt8](repeating: 0, count: length)
            guard EVP_PKEY_sign(ctx, &out, &length, digest, digest.count) == 1 else { throw failure("EVP_PKEY_sign") }
            return Array(out.prefix(length))
        case .ed25519:
            guard let md = EVP_MD_CTX_new() else { throw failure("EVP_MD_CTX_new") }
            defer { EVP_MD_CTX_free(md) }
            guard EVP_DigestSignInit(md, nil, nil, nil, pointer) == 1 else { throw failure("EVP_DigestSignInit") }
            var length = 64
            var out = [UInt8](repeating: 0, count: 64)
            guard EVP_DigestSign(md, &out, &length, digest, digest.count) == 1 else { throw failure("EVP_DigestSign") }
            return Array(out.prefix(length))
        case nil:
            throw DKIMError(.signingFailed, "the key is neither RSA nor Ed25519")
        }
    }

    func verify(signature: [UInt8], digest: [UInt8]) -> Bool {
        defer { ERR_clear_error() }
        switch keyType {
        case .rsa:
            guard let ctx = EVP_PKEY_CTX_new(pointer, nil) else { return false }
            defer { EVP_PKEY_CTX_free(ctx) }
            guard EVP_PKEY_verify_init(ctx) == 1,
                  EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1,
                  EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 else { return false }
            return EVP_PKEY_verify(ctx, signature, signature.count, digest, digest.count) == 1
        case .ed25519:
            guard let md = EVP_MD_CTX_new() else { return false }
            defer { EVP_MD_CTX_free(md) }
            guard EVP_DigestVerifyInit(md, nil, nil, nil, pointer) == 1 else { return false }
            return EVP_DigestVerify(md, signature, signature.count, digest, digest.count) == 1
        case nil:
            return false
        }
    }

    /// The `p=` bytes: SubjectPublicKeyInfo DER for RSA, the raw 32-byte key for Ed25519 (RFC 8463 §4).
    var publicKeyData: [UInt8] {
        switch keyType {
        case .ed25519:
            var length = 32
            var out = [UInt8](repeating: 0, count: 32)
            guard EVP_PKEY_get_raw_public_key(pointer, &out, &length) == 1 else { return [] }
            return Array(out.prefix(length))
        default:
            let length = i2d_PUBKEY(pointer, nil)
            guard length > 0 else { return [] }
            var out = [UInt8](repeating: 0, count: Int(length))
            out.withUnsafeMutableBufferPointer { buffer in
                var p: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
                _ = i2d_PUBKEY(pointer, &p)
            }
            return out
        }
    }

    /// The private key as PKCS#8 PEM (`BEGIN PRIVATE KEY`).
    func pkcs8PEM() throws(DKIMError) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { throw failure("BIO_new") }
        defer { BIO_free(bio) }
        guard PEM_write_bio_PrivateKey(bio, pointer, nil, nil, 0, nil, nil) == 1 else {
            throw failure("PEM_write_bio_PrivateKey")
        }
        var data: UnsafeMutablePointer<CChar>?
        let length = copenssl_bio_get_mem_data(bio, &data)
        guard let data, length > 0 else { throw failure("BIO_get_mem_data") }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }

    private func failure(_ what: String) -> DKIMError {
        DKIMError(.signingFailed, "\(what) failed: \(openSSLErrorText())")
    }
}
