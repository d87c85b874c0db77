import DKIMTestSupport
import Testing
@testable import DKIM
@testable import DKIMOpenSSL

@Suite struct PrivateKeyLoadingTests {
    @Test func loadsPKCS1RSAPEM() throws {
        let key = try PrivateKey(pemOrSeed: Fixtures.text("corpus/keys/rsa2048a.pem"))
        #expect(key.keyType == .rsa)
        #expect(key.bitCount == 2048)
    }

    @Test func loadsPKCS8Ed25519PEMAndTheSameKeyAsARawSeed() throws {
        let pem = try PrivateKey(pemOrSeed: Fixtures.text("corpus/keys/ed25519a.pem"))
        let seed = try PrivateKey(pemOrSeed: Fixtures.text("corpus/keys/ed25519a.ed25519-seed.b64"))
        #expect(pem.keyType == .ed25519)
        #expect(pem.publicKeyData.count == 32)
        #expect(pem.publicKeyData == seed.publicKeyData)
    }

    /// RFC 8463 §4: p= is the raw 32-byte key; the corpus publishes it for ed25519a.
    @Test func ed25519PublicKeyMatchesThePublishedRecord() throws {
        let key = try PrivateKey(pemOrSeed: Fixtures.text("corpus/keys/rfc8463-brisbane.ed25519-seed.b64"))
        #expect(Base64.encode(key.publicKeyData) == "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
    }

    @Test func rsaPublicKeyIsSubjectPublicKeyInfo() throws {
        let key = try PrivateKey(pemOrSeed: Fixtures.text("keys/rfc8463-test-rsa.pem"))
        #expect(Base64.encode(key.publicKeyData).hasPrefix("MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQ"))
    }

    @Test(arguments: ["", "garbage", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                      "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", "Zm9v"])
    func refusesWhatIsNotAPrivateKey(_ text: String) {
        #expect(throws: DKIMError.self) { try PrivateKey(pemOrSeed: text) }
    }

    @Test func refusesATruncatedPEM() throws {
        let pem = try Fixtures.text("corpus/keys/rsa2048a.pem")
        #expect(throws: DKIMError.self) { try PrivateKey(pemOrSeed: String(pem.prefix(pem.count / 2)) + "\n-----END RSA PRIVATE KEY-----\n") }
    }
}

@Suite struct KeyGenerationTests {
    @Test(arguments: [(KeyRecord.KeyType.rsa, 1024), (.ed25519, 256)])
    func generatedKeysSignAndVerifyAndRoundTripThroughPKCS8(_ type: KeyRecord.KeyType, _ bits: Int) throws {
        let key = try PrivateKey.generate(type: type, bits: bits)
        #expect(key.bitCount == bits)
        let pem = try key.pkcs8PEM()
        #expect(pem.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        let reloaded = try PrivateKey(pemOrSeed: pem)
        #expect(reloaded.publicKeyData == key.publicKeyData)
        let digest = SHA256Digest.hash(Array("message".utf8))
        let signature = try key.signature(forDigest: digest)
        let publicKey = try PublicKey(type: type, publicKeyData: key.publicKeyData)
        #expect(publicKey.isValidSignature(signature, forDigest: digest))
        var other = digest
        other[0] ^= 1
        #expect(!publicKey.isValidSignature(signature, forDigest: other))
        #expect(try KeyRecord(parsing: key.keyRecord.txtValue).publicKeyData == key.publicKeyData)
    }
}

@Suite struct PublicKeyTests {
    /// RFC 8463 §4: an Ed25519 p= must be exactly 32 bytes.
    @Test func refusesEd25519KeysOfTheWrongLength() {
        #expect(throws: DKIMError(.keyUnusable, "")) { try PublicKey(type: .ed25519, publicKeyData: [UInt8](repeating: 1, count: 31)) }
    }

    @Test func refusesAnEd25519KeyPublishedAsRSA() throws {
        let key = try PrivateKey(pemOrSeed: Fixtures.text("corpus/keys/ed25519a.pem"))
        #expect(throws: DKIMError(.keyUnusable, "")) { try PublicKey(type: .rsa, publicKeyData: key.publicKeyData) }
    }

    @Test func refusesGarbageRSAKeys() {
        #expect(throws: DKIMError(.keyUnusable, "")) { try PublicKey(type: .rsa, publicKeyData: Array("ABCDEFGHIJKLMNOP".utf8)) }
    }

    @Test func sha256MatchesTheKnownVector() {
        #expect(Base64.encode(SHA256Digest.hash(Array("abc".utf8))) == "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=")
        var d = SHA256Digest()
        d.update(Array("a".utf8)); d.update(Array("bc".utf8))
        #expect(Base64.encode(d.finalize()) == "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=")
    }
}
