import DKIM
import DKIMOpenSSL
import DKIMTestSupport
import Foundation
import MilterClient
@testable import DKIMMilter
@testable import DKIMMilterCore

enum MilterFixtures {
    static let now = 1_764_000_000
    static let records: StaticTXTResolver = {
        (try? StaticTXTResolver(parsingRecordsFile: Fixtures.text("corpus/keys.txt"))) ?? StaticTXTResolver()
    }()

    static func key(_ path: String, domain: String = "example.com", selector: String) throws -> SigningKey {
        SigningKey(domain: domain, selector: selector,
                   key: try PrivateKey(pemOrSeed: Fixtures.text("corpus/keys/" + path)), path: path)
    }

    /// A policy signing example.com with the corpus keys (published in keys.txt).
    static func policy(keys: [SigningKey]? = nil, resolver: (any TXTResolver)? = nil,
                       _ configure: (inout MilterConfiguration) -> Void = { _ in }) throws -> MilterPolicy {
        var c = MilterConfiguration()
        c.authservID = "mx.example.org"
        configure(&c)
        let list = try keys ?? [key("rsa2048a.pem", selector: "sr2048a")]
        var byDomain: [String: [SigningKey]] = [:]
        for k in list { byDomain[k.domain, default: []].append(k) }
        let store = KeyStore(keys: byDomain, signingTable: nil, byDomain: true, subDomains: c.subDomains,
                             multipleSignatures: false)
        return MilterPolicy(configuration: c, keys: store, resolver: resolver ?? records,
                            crypto: OpenSSLCryptoProvider(),
                            authservID: "mx.example.org",
                            now: { now })
    }

    static let message = Array("""
        From: Alice <alice@example.com>\r
        To: bob@example.org\r
        Subject: a folded\r
          subject line\r
        Date: Sat, 28 Nov 2026 10:00:00 +0000\r
        Message-ID: <m1@example.com>\r
        \r
        Hello Bob,\r
        \r
        the body.  \r
        \r
        \r

        """.utf8)

    /// Feeds a message to a session exactly as libmilter would (leading space kept, LF folding).
    static func run(_ session: MilterSession, _ message: [UInt8],
                    client: (String?, String?) = ("localhost", "127.0.0.1"),
                    macros: [String: String] = [:], chunkSize: Int = 65535) -> (EndOfMessageActions, [UInt8]) {
        _ = session.connect(hostname: client.0, address: client.1)
        _ = session.envelopeFrom(macros: macros)
        let (headers, body) = MilterConnection.split(message)
        for (name, value) in headers {
            let lf = String(decoding: value, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
            _ = session.header(name: name, value: Array(lf.utf8))
        }
        var answers: [String: TXTLookupResult] = [:]
        switch session.endOfHeaders() {
        case .accept: return (EndOfMessageActions(), message)
        case .continue: break
        case .lookUp(let names): for n in names { answers[n] = session.policy.resolver.lookupTXT(n) }
        }
        for chunk in Chunking.split(body, size: chunkSize) { _ = session.body(chunk) }
        let actions = session.endOfMessage(macros: ["i": "QUEUEID"], keys: answers).actions
        var mods: [MilterConnection.Modification] = []
        for m in actions.modifications {
            switch m {
            case .insert(let i, let n, let v): mods.append(.insertHeader(index: i, name: n, value: v))
            case .delete(let n, let i): mods.append(.changeHeader(index: i, name: n, value: ""))
            }
        }
        return (actions, MilterConnection.apply(mods, headers: headers, body: body))
    }

    static func verify(_ message: [UInt8]) throws -> [SignatureVerification] {
        try DKIMVerifier(resolver: records, crypto: OpenSSLCryptoProvider())
            .verify(message: message, now: now + 60).signatures
    }
}
