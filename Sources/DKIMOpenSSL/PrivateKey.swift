internal import COpenSSL
import DKIM

/// A DKIM private key held by OpenSSL: RSA (PKCS#1 v1.5, SHA-256) or Ed25519 (RFC 8463).
public final class PrivateKey: DKIMSigningKey, @unchecked Sendable {
    let key: OpenSSLKey
    public let keyType: KeyRecord.KeyType

    init(_ key: OpenSSLKey) throws(DKIMError) {
        guard let type = key.keyType else {
            throw DKIMError(.invalidArgument, "the key is neither RSA nor Ed25519")
        }
        self.key = key
        self.keyType = type
    }

    /// Loads a private key from the text of a key file: PEM, either PKCS#1
    /// (`BEGIN RSA PRIVATE KEY`) or PKCS#8 (`BEGIN PRIVATE KEY`), or a raw base64 Ed25519 seed
    /// (32 bytes) as dkimpy writes it. Encrypted keys are refused, never prompted for.
    public convenience init(pemOrSeed text: String) throws(DKIMError) {
        let trimmed = text.trimmingCharacters(in: " \t\r\n")
        if !trimmed.contains("-----BEGIN"), let seed = Base64.decode(trimmed), seed.count == 32 || seed.count == 64 {
            try self.init(ed25519Seed: Array(seed.prefix(32)))
            return
        }
        guard trimmed.contains("-----BEGIN") else {
            throw DKIMError(.invalidArgument, "this is neither a PEM private key nor a base64 Ed25519 seed")
        }
        if trimmed.contains("ENCRYPTED") {
            throw DKIMError(.invalidArgument, "the key is encrypted with a passphrase; store it unencrypted (readable only by the signer)")
        }
        let bytes = Array(trimmed.utf8)
        let pkey: OpaquePointer? = bytes.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_PrivateKey(bio, nil, { _, _, _, _ in 0 }, nil)
        }
        guard let pkey else {
            throw DKIMError(.invalidArgument, "the PEM data is not a readable private key (\(openSSLErrorText()))")
        }
        try self.init(OpenSSLKey(pkey))
    }

    /// An Ed25519 key from its 32-byte seed.
    public convenience init(ed25519Seed seed: [UInt8]) throws(DKIMError) {
        guard seed.count == 32,
              let pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, seed, 32) else {
            throw DKIMError(.invalidArgument, "an Ed25519 seed must be 32 bytes")
        }
        try self.init(OpenSSLKey(pkey))
    }

    /// Generates a new key: RSA with `bits` bits, or Ed25519.
    public static func generate(type: KeyRecord.KeyType, bits: Int = 2048) throws(DKIMError) -> PrivateKey {
        let id = type == .rsa ? EVP_PKEY_RSA : EVP_PKEY_ED25519
        guard let ctx = EVP_PKEY_CTX_new_id(id, nil) else {
            throw DKIMError(.signingFailed, "EVP_PKEY_CTX_new_id failed: \(openSSLErrorText())")
        }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_keygen_init(ctx) == 1 else {
            throw DKIMError(.signingFailed, "EVP_PKEY_keygen_init failed: \(openSSLErrorText())")
        }
        if type == .rsa {
            guard EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, Int32(bits)) == 1 else {
                throw DKIMError(.signingFailed, "cannot make a \(bits)-bit RSA key: \(openSSLErrorText())")
            }
        }
        var pkey: OpaquePointer?
        guard EVP_PKEY_keygen(ctx, &pkey) == 1, let pkey else {
            throw DKIMError(.signingFailed, "key generation failed: \(openSSLErrorText())")
        }
        return try PrivateKey(OpenSSLKey(pkey))
    }

    public var bitCount: Int { key.bitCount }
    public var publicKeyData: [UInt8] { key.publicKeyData }

    public func signature(forDigest digest: [UInt8]) throws(DKIMError) -> [UInt8] {
        try key.sign(digest: digest)
    }

    /// The key as PKCS#8 PEM (`BEGIN PRIVATE KEY`).
    public func pkcs8PEM() throws(DKIMError) -> String { try key.pkcs8PEM() }

    /// The key record to publish for this key.
    public var keyRecord: KeyRecord { KeyRecord(keyType: keyType, publicKeyData: publicKeyData) }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        let drop = Set(set)
        var s = Substring(self)
        while let f = s.first, drop.contains(f) { s.removeFirst() }
        while let l = s.last, drop.contains(l) { s.removeLast() }
        return String(s)
    }
}
