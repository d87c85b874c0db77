import DKIMOpenSSL
import DKIMTestSupport
import Testing
@testable import DKIM

/// RFC 8463 Appendix A: a message signed with Ed25519 (selector brisbane) and RSA (selector test).
@Suite struct RFC8463ExampleTests {
    func fields() throws -> [HeaderField] {
        var parser = MessageParser()
        var fields: [HeaderField] = []
        try parser.parse(try Fixtures.bytes("corpus/messages/rfc8463-appendix-a.eml")) {
            if case .header(let f) = $0 { fields.append(f) }
        }
        return fields
    }

    @Test func bothSignaturesVerify() throws {
        let resolver = try StaticTXTResolver(parsingRecordsFile: Fixtures.text("corpus/keys.txt"))
        let verifier = DKIMVerifier(resolver: resolver, crypto: OpenSSLCryptoProvider())
        let results = try verifier.verify(message: Fixtures.bytes("corpus/messages/rfc8463-appendix-a.eml"), now: 1_528_637_909)
        #expect(results.signatures.map(\.result) == [.pass, .pass])
        #expect(results.signatures.map(\.selector) == ["brisbane", "test"])
    }

    /// Both schemes are deterministic, so signing the header hash the verifier computes with the
    /// RFC's keys must reproduce its b= values byte for byte (Ed25519 signs the SHA-256 digest).
    @Test(arguments: [("brisbane", "corpus/keys/rfc8463-brisbane.ed25519-seed.b64"), ("test", "keys/rfc8463-test-rsa.pem")])
    func resigningReproducesTheSignature(_ selector: String, _ keyPath: String) throws {
        let fields = try fields()
        let signatureField = try #require(fields.first {
            $0.hasName("dkim-signature") && (try? DKIMSignature(parsing: $0))?.selector == selector
        })
        let signature = try DKIMSignature(parsing: signatureField)
        let key = try PrivateKey(pemOrSeed: Fixtures.text(keyPath))
        let digest = SHA256Digest.hash(try HeaderHashInput.input(fields, signatureField: signatureField))
        #expect(try key.signature(forDigest: digest) == signature.signatureData)
    }
}
