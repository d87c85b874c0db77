import DKIMKeyTool
import DKIMOpenSSL
import DKIMTestSupport
import Foundation
import Testing
@testable import DKIM

/// Every signing case of the corpus: the expected bh=, and a signature our verifier accepts.
@Suite struct CorpusSigningTests {
    @Test(arguments: Corpus.signingCases)
    func signingProducesTheExpectedBodyHashAndAValidSignature(_ c: Corpus.SigningCase) throws {
        let key = try PrivateKey(pemOrSeed: Fixtures.text("corpus/" + c.key))
        let message = try Fixtures.bytes("corpus/" + c.message)
        let configuration = SignerConfiguration(
            domain: c.domain, selector: c.selector, algorithm: SignatureAlgorithm(rawValue: c.algorithm),
            canonicalization: try #require(CanonicalizationPair(tagValue: c.canonicalization)),
            signedHeaderNames: c.headers, includesBodyLength: c.bodyLength != nil, timestamp: 1_700_000_000)
        let signed = try MessageSigning.sign(message: message, configuration: configuration, key: key)
        #expect(Array(signed.suffix(message.count)) == message, "other bytes unchanged")
        var parser = MessageParser()
        var first: HeaderField?
        try parser.parse(signed) { if case .header(let f) = $0, first == nil { first = f } }
        let field = try #require(first)
        let signature = try DKIMSignature(parsing: field)
        #expect(Base64.encode(signature.bodyHash) == c.bodyHash)
        #expect(signature.signedHeaderNames == c.headers)
        #expect(signature.canonicalization.description == c.canonicalization)
        #expect(signature.bodyLength == c.bodyLength, "l= must be the canonicalized body length of signing.tsv")
        // The tags exactly as written: c= spelled out as in signing.tsv, l= only where it asks for it.
        let tags = try TagList(parsing: field.unfoldedValue)
        #expect(tags["c"] == c.canonicalization)
        #expect(tags["a"] == c.algorithm)
        #expect(tags["d"] == c.domain)
        #expect(tags["s"] == c.selector)
        #expect(tags["h"]?.filter { !$0.isWhitespace } == c.headers.joined(separator: ":"))
        #expect(tags["l"] == c.bodyLength.map(String.init))
        let resolver = try StaticTXTResolver(parsingRecordsFile: Fixtures.text("corpus/keys.txt"))
        let verification = try DKIMVerifier(resolver: resolver, crypto: OpenSSLCryptoProvider())
            .verify(message: signed, now: 1_700_000_100)
        #expect(verification.signatures.first?.result == .pass, "\(verification.signatures.first?.reason ?? "")")
    }

    /// The corpus holds cases with l= (else the l= comparison above would never run).
    @Test func corpusHasSigningCasesWithABodyLength() {
        let lengths = Corpus.signingCases.compactMap { c in c.bodyLength.map { (c.name, $0) } }
        #expect(lengths.map(\.0) == ["sign-with-body-length", "sign-body-length-simple-no-final-crlf"])
        #expect(lengths.map(\.1) == [269, 19])
    }

    /// RFC 6376 §5.4.2 and §8.15: the default list signs what is present and over-signs From & co.
    @Test func defaultHeaderListOversignsFrom() throws {
        let fields = ["From: a@example.com", "To: b@example.org", "Received: x", "Subject: s", "To: c@example.org"]
            .map { HeaderField(bytes: Array($0.utf8)) }
        let names = SignerConfiguration.defaultHeaderNames(for: fields)
        #expect(names.filter { $0 == "from" }.count == 2)
        #expect(names.filter { $0 == "to" }.count == 3)
        #expect(!names.contains("received"))
        #expect(names.contains("cc"))
    }

    @Test func signerRefusesKeysThatDoNotFitTheAlgorithm() throws {
        let key = try PrivateKey(pemOrSeed: Fixtures.text("corpus/keys/ed25519a.pem"))
        let configuration = SignerConfiguration(domain: "example.com", selector: "s", algorithm: .rsaSHA256)
        #expect(throws: DKIMError(.invalidArgument, "")) {
            try SigningSession(configuration: configuration, key: key, crypto: OpenSSLCryptoProvider())
        }
    }

    /// RFC 8301 §3.2: signers MUST use RSA keys of at least 1024 bits.
    @Test func signerRefusesSmallRSAKeys() throws {
        let key = try PrivateKey(pemOrSeed: Fixtures.text("corpus/keys/rsa512a.pem"))
        let configuration = SignerConfiguration(domain: "example.com", selector: "s")
        #expect(throws: DKIMError(.invalidArgument, "")) {
            try SigningSession(configuration: configuration, key: key, crypto: OpenSSLCryptoProvider())
        }
    }

    /// Every c= combination, both algorithms, awkward bodies, any chunking: sign, then verify.
    @Test(arguments: ["simple/simple", "simple/relaxed", "relaxed/simple", "relaxed/relaxed"])
    func signAndVerifyRoundTripForEveryCanonicalization(_ c: String) throws {
        let keys = [("corpus/keys/rsa2048a.pem", "sr2048a"), ("corpus/keys/ed25519a.pem", "seda")]
        let bodies = ["", "\r\n\r\n", "no final newline", "trailing  \t\r\n\r\n\r\n", " lead\r\n\tx  y\r\n",
                      String(repeating: "long line ", count: 2000) + "\r\n", "8-bit caf\u{e9}\r\n"]
        let resolver = try StaticTXTResolver(parsingRecordsFile: Fixtures.text("corpus/keys.txt"))
        for (keyPath, selector) in keys {
            let key = try PrivateKey(pemOrSeed: Fixtures.text(keyPath))
            for body in bodies {
                let message = Array(("From: A <a@example.com>\r\nTo:  b@example.org\r\n"
                    + "Subject: folded\r\n  subject \r\n\r\n\(body)").utf8)
                let configuration = SignerConfiguration(
                    domain: "example.com", selector: selector,
                    canonicalization: try #require(CanonicalizationPair(tagValue: c)), timestamp: 1_700_000_000)
                for size in [nil, 1, 3, 7] as [Int?] {
                    var session = try SigningSession(configuration: configuration, key: key,
                                                     crypto: OpenSSLCryptoProvider())
                    var parser = MessageParser()
                    func handle(_ e: MessageParser.Event) {
                        switch e {
                        case .header(let f): session.append(f)
                        case .endOfHeaders: session.endOfHeaders()
                        case .body(let b): session.appendBody(b)
                        }
                    }
                    for chunk in size.map({ Chunking.split(message, size: $0) }) ?? [message] {
                        try parser.parse(chunk, handle)
                    }
                    try parser.finish(handle)
                    let field = try session.finish()
                    let signed = field.bytes + [13, 10] + message
                    let result = try DKIMVerifier(resolver: resolver, crypto: OpenSSLCryptoProvider())
                        .verify(message: signed, now: 1_700_000_100).signatures
                    #expect(result.map(\.result) == [.pass],
                        "\(selector) \(c) body \(body.prefix(20).debugDescription) chunk \(String(describing: size))")
                }
            }
        }
    }
}
