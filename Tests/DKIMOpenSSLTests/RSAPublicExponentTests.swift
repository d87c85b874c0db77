import DKIMTestSupport
import Foundation
import Testing
@testable import DKIM
@testable import DKIMOpenSSL

/// Issue 18, finding 5: the RSA public exponent decides a verification's CPU as much as the modulus
/// does. A 3072-bit key with a 3071-bit exponent made five signatures cost 38 ms per message
/// (28 messages/s instead of 3,841), although only the modulus size was checked.
@Suite struct RSAPublicExponentTests {
    static let message = Array("""
        From: alice@example.com\r
        To: bob@example.org\r
        Subject: exponents\r
        Date: Mon, 1 Dec 2025 10:00:00 +0000\r
        \r
        Hello.\r

        """.utf8)

    /// Signs `message` with `key` as `selector._domainkey.example.com`, publishes `record` there
    /// and verifies the result.
    func verify(signedBy key: PrivateKey, publishing record: String) throws -> [SignatureVerification] {
        let crypto = OpenSSLCryptoProvider(cachedKeys: 0)
        let configuration = SignerConfiguration(domain: "example.com", selector: "s")
        let field = try DKIMSigner(configuration: configuration, key: key, crypto: crypto)
            .signatureField(for: Self.message)
        let resolver = StaticTXTResolver(["s._domainkey.example.com": .records([record])])
        return try DKIMVerifier(resolver: resolver, crypto: crypto)
            .verify(message: field.bytes + [13, 10] + Self.message, now: Int(Date().timeIntervalSince1970)).signatures
    }

    /// The `p=` bytes of a key in `keys/rsa-exponents.txt` (one modulus, the exponent in the name).
    func publishedKey(_ selector: String) throws -> [UInt8] {
        let records = try StaticTXTResolver(parsingRecordsFile: Fixtures.text("keys/rsa-exponents.txt"))
        guard case .records(let list) = records.lookupTXT("\(selector)._domainkey.exponents.example"),
              let text = list.first else { throw DKIMError(.keyNotFound, "no \(selector) in rsa-exponents.txt") }
        return try KeyRecord(parsing: text).publicKeyData
    }

    /// The attack: a key pair whose public exponent is a 3071-bit number (an ordinary key with e and
    /// d swapped) makes valid signatures that are costly to check. The signature is refused as
    /// permerror before any exponentiation, with a reason that names the exponent.
    @Test func aValidSignatureByAKeyWithAHugePublicExponentIsAPermerrorThatSaysWhy() throws {
        let key = try PrivateKey(pemOrSeed: Fixtures.text("keys/rsa3072-huge-exponent.pem"))
        let results = try verify(signedBy: key, publishing: key.keyRecord.txtValue)
        #expect(results.map(\.result.word) == ["permerror"])
        let error = try #require(results.first?.result.error)
        #expect(error.code == .keyUnusable)
        #expect(error.reason.contains("the RSA public exponent has 3071 bits; at most 32 are accepted"), "\(error)")
    }

    @Test func aSignatureByAnOrdinaryKeyWithExponent65537StillPasses() throws {
        let key = try PrivateKey(pemOrSeed: Fixtures.text("corpus/keys/rsa2048a.pem"))
        let results = try verify(signedBy: key, publishing: key.keyRecord.txtValue)
        #expect(results.map(\.result) == [.pass])
    }

    /// RFC 8017 §3.1: e is odd and at least 3; e=1 leaves the message as it is and an even e has no
    /// inverse. Above 32 bits an odd e is refused for CPU.
    @Test(arguments: [("e1", "is 1, which is not a valid RSA exponent"),
                      ("e65536", "is 65536, which is not a valid RSA exponent"),
                      ("e4294967297", "has 33 bits; at most 32 are accepted")])
    func publicKeysWithAnInvalidOrOversizedExponentAreUnusable(_ selector: String, _ reason: String) throws {
        let data = try publishedKey(selector)
        let error = #expect(throws: DKIMError.self) { try PublicKey(type: .rsa, publicKeyData: data) }
        #expect(error?.code == .keyExponentUnusable)
        #expect(error?.reason.contains(reason) == true, "\(String(describing: error))")
    }

    @Test(arguments: ["e3", "e65537", "e4294967295"])
    func publicKeysWithAnOddExponentOfAtMost32BitsAreAccepted(_ selector: String) throws {
        let key = try PublicKey(type: .rsa, publicKeyData: publishedKey(selector))
        #expect(key.bitCount == 3072)
    }
}
