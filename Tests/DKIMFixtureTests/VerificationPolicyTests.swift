import DKIMOpenSSL
import DKIMTestSupport
import Testing
@testable import DKIM

/// Rules of RFC 6376 §6.1 and RFC 8301 checked against messages we sign here.
@Suite struct VerificationPolicyTests {
    static let message = Array("From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nHello\r\n".utf8)

    func sign(keyPath: String, selector: String,
              _ configure: (inout SignerConfiguration) -> Void = { _ in }) throws -> [UInt8] {
        var configuration = SignerConfiguration(domain: "example.com", selector: selector, timestamp: 1_700_000_000)
        configure(&configuration)
        let key = try PrivateKey(pemOrSeed: Fixtures.text(keyPath))
        var session = try SigningSession(configuration: configuration, key: key, crypto: OpenSSLCryptoProvider())
        var parser = MessageParser()
        try parser.parse(Self.message) {
            switch $0 {
            case .header(let f): session.append(f)
            case .endOfHeaders: session.endOfHeaders()
            case .body(let b): session.appendBody(b)
            }
        }
        return try session.finish().bytes + [13, 10] + Self.message
    }

    func verify(_ message: [UInt8], records: [String: TXTLookupResult], now: Int = 1_700_000_100,
                configuration: VerifierConfiguration = .init()) throws -> SignatureVerification {
        let verifier = DKIMVerifier(configuration: configuration, resolver: StaticTXTResolver(records),
                                    crypto: OpenSSLCryptoProvider())
        return try #require(try verifier.verify(message: message, now: now).signatures.first)
    }

    func record(_ keyPath: String, extra: String = "") throws -> TXTLookupResult {
        let key = try PrivateKey(pemOrSeed: Fixtures.text(keyPath))
        return .records(["v=DKIM1; k=\(key.keyType.rawValue); \(extra)p=\(Base64.encode(key.publicKeyData))"])
    }

    @Test func aValidSignaturePasses() throws {
        let signed = try sign(keyPath: "corpus/keys/rsa2048a.pem", selector: "s")
        #expect(try verify(signed, records: ["s._domainkey.example.com": record("corpus/keys/rsa2048a.pem")]).result
                == .pass)
    }

    /// RFC 8301 §3.2: RSA keys below 1024 bits are never valid, even with a correct signature.
    @Test func signatureWithAKeyBelow1024BitsNeverPasses() throws {
        let key = try PrivateKey(pemOrSeed: Fixtures.text("corpus/keys/rsa512a.pem"))
        #expect(key.bitCount == 512)
        let signed = try Fixtures.bytes("corpus/messages/alg-rsa-512-bit-key.eml")
        let records = try StaticTXTResolver(parsingRecordsFile: Fixtures.text("corpus/keys.txt"))
        let result = try DKIMVerifier(resolver: records, crypto: OpenSSLCryptoProvider())
            .verify(message: signed, now: 1_700_000_100)
        #expect(result.signatures.first?.result == .permError(DKIMError(.keyTooSmall, "")))
    }

    /// Verifying RSA keys above 8192 bits costs too much CPU: they are refused.
    @Test func rsaKeysAboveTheConfiguredMaximumAreRefused() throws {
        let signed = try sign(keyPath: "corpus/keys/rsa4096a.pem", selector: "s")
        let result = try verify(signed, records: ["s._domainkey.example.com": record("corpus/keys/rsa4096a.pem")],
                                configuration: VerifierConfiguration(maximumRSAKeyBits: 2048))
        #expect(result.result == .permError(DKIMError(.keyTooLarge, "")))
    }

    /// The documented default limit, as a figure: RSA keys of 8192 bits verify, of 8193 bits are refused.
    @Test func byDefaultAnRSAKeyOf8192BitsVerifiesAndOneOf8193BitsIsRefused() throws {
        for (path, bits) in [("keys/rsa8192.pem", 8192), ("keys/rsa8193.pem", 8193)] {
            #expect(try PrivateKey(pemOrSeed: Fixtures.text(path)).bitCount == bits)
        }
        let within = try sign(keyPath: "keys/rsa8192.pem", selector: "s")
        #expect(try verify(within, records: ["s._domainkey.example.com": record("keys/rsa8192.pem")]).result == .pass)
        let beyond = try sign(keyPath: "keys/rsa8193.pem", selector: "s")
        let refused = try verify(beyond, records: ["s._domainkey.example.com": record("keys/rsa8193.pem")])
        #expect(refused.result == .permError(DKIMError(.keyTooLarge, "")))
        #expect(refused.reason.contains("8193 bits; more than 8192 are refused"), "\(refused.reason)")
    }

    @Test func expiredSignatureIsAPermanentError() throws {
        let signed = try sign(keyPath: "corpus/keys/ed25519a.pem", selector: "s") { $0.expiration = 1_700_000_050 }
        let records = ["s._domainkey.example.com": try record("corpus/keys/ed25519a.pem")]
        #expect(try verify(signed, records: records, now: 1_700_000_040).result == .pass)
        #expect(try verify(signed, records: records, now: 1_800_000_000).result
                == .permError(DKIMError(.signatureExpired, "")))
    }

    @Test func keyLookupOutcomesMapToRFC8601Results() throws {
        let signed = try sign(keyPath: "corpus/keys/ed25519a.pem", selector: "s")
        #expect(try verify(signed, records: [:]).result.word == "permerror")
        #expect(try verify(signed, records: ["s._domainkey.example.com": .temporaryFailure(reason: "x")]).result.word
                == "temperror")
        #expect(try verify(signed, records: ["s._domainkey.example.com": .records([])]).result.word == "permerror")
        #expect(try verify(signed, records: ["s._domainkey.example.com": .records(["v=DKIM1; k=ed25519; p="])]).result
                == .permError(DKIMError(.keyRevoked, "")))
    }

    /// RFC 6376 §3.6.1: key h=, s= and t=s restrictions.
    @Test func keyRestrictionsAreEnforced() throws {
        let signed = try sign(keyPath: "corpus/keys/ed25519a.pem", selector: "s") {
            $0.identity = "user@mail.example.com"
        }
        let path = "corpus/keys/ed25519a.pem"
        func result(_ extra: String) throws -> VerificationResult {
            try verify(signed, records: ["s._domainkey.example.com": record(path, extra: extra)]).result
        }
        #expect(try result("") == .pass)
        #expect(try result("h=sha1; ") == .permError(DKIMError(.keyHashNotAllowed, "")))
        #expect(try result("s=tlsrpt; ") == .permError(DKIMError(.keyServiceNotAllowed, "")))
        #expect(try result("t=s; ") == .permError(DKIMError(.keyStrictIdentity, "")))
        #expect(try result("t=y; ") == .pass)
    }

    @Test func keyOfTheWrongTypeIsAPermanentError() throws {
        let signed = try sign(keyPath: "corpus/keys/rsa2048a.pem", selector: "s")
        let result = try verify(signed, records: ["s._domainkey.example.com": record("corpus/keys/ed25519a.pem")])
        #expect(result.result == .permError(DKIMError(.keyTypeMismatch, "")))
    }

    @Test func changedBodyFailsOnTheBodyHashAndChangedHeaderOnTheSignature() throws {
        let signed = try sign(keyPath: "corpus/keys/rsa2048a.pem", selector: "s")
        let records = ["s._domainkey.example.com": try record("corpus/keys/rsa2048a.pem")]
        var body = signed
        body[body.count - 3] ^= 0x20
        #expect(try verify(body, records: records).result == .fail(DKIMError(.bodyHashMismatch, "")))
        let header = Array(String(decoding: signed, as: UTF8.self).replacingFirst("Subject: hi", "Subject: ho").utf8)
        #expect(try verify(header, records: records).result == .fail(DKIMError(.signatureMismatch, "")))
    }

    /// RFC 6376 §8.4: verifiers may limit the signatures evaluated; the rest are reported, not dropped.
    @Test func signaturesBeyondTheLimitAreReportedAsNotEvaluated() throws {
        let one = try sign(keyPath: "corpus/keys/ed25519a.pem", selector: "s")
        let field = Array(one.prefix(one.count - Self.message.count))
        let many = Array(repeating: field, count: 40).flatMap { $0 } + Self.message
        let verifier = DKIMVerifier(configuration: VerifierConfiguration(maximumSignatures: 5),
                                    resolver: StaticTXTResolver([
                                        "s._domainkey.example.com": try record("corpus/keys/ed25519a.pem"),
                                    ]),
                                    crypto: OpenSSLCryptoProvider())
        let results = try verifier.verify(message: many, now: 1_700_000_100).signatures
        #expect(results.count == 40)
        #expect(results.prefix(5).allSatisfy { $0.result == .pass })
        #expect(results.dropFirst(5).allSatisfy { $0.result.word == "neutral" })
    }

    /// The library's (and `dkimkey verify`'s) default: 32 signatures evaluated, the 33rd neutral.
    @Test func byDefaultThirtyTwoSignaturesAreEvaluatedAndTheThirtyThirdIsNeutral() throws {
        let one = try sign(keyPath: "corpus/keys/ed25519a.pem", selector: "s")
        let field = Array(one.prefix(one.count - Self.message.count))
        let many = Array(repeating: field, count: 33).flatMap { $0 } + Self.message
        let records = StaticTXTResolver(["s._domainkey.example.com": try record("corpus/keys/ed25519a.pem")])
        let verifier = DKIMVerifier(resolver: records, crypto: OpenSSLCryptoProvider())
        let results = try verifier.verify(message: many, now: 1_700_000_100).signatures
        #expect(results.map(\.result.word) == Array(repeating: "pass", count: 32) + ["neutral"])
        #expect(results.last?.reason.contains("only the first 32 signatures are checked") == true)
    }
}

extension String {
    func replacingFirst(_ a: String, _ b: String) -> String {
        guard let r = range(of: a) else { return self }
        return replacingCharacters(in: r, with: b)
    }
}
