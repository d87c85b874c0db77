import DKIMOpenSSL
import DKIMTestSupport
import Foundation
import Testing
@testable import DKIM

/// Every row of the shared corpus's expected.tsv, through the library.
@Suite struct CorpusVerificationTests {
    static let resolver: StaticTXTResolver = {
        (try? StaticTXTResolver(parsingRecordsFile: Fixtures.text("corpus/keys.txt"))) ?? StaticTXTResolver()
    }()
    static let verifier = DKIMVerifier(resolver: resolver, crypto: OpenSSLCryptoProvider())
    static let now = Int(Date().timeIntervalSince1970)

    @Test func corpusIsPresentAndComplete() {
        #expect(Corpus.expectations.count == 216)
        #expect(Corpus.signingCases.count == 40)
    }

    @Test(arguments: Corpus.messageFiles)
    func verdictMatchesTheCorpus(_ file: String) throws {
        let message = try Fixtures.bytes("corpus/" + file)
        let results = try Self.verifier.verify(message: message, now: Self.now).signatures
        for row in Corpus.expectations where row.file == file {
            if row.index == 0 {
                #expect(results.isEmpty, "\(file): expected no signature")
                continue
            }
            let got = try #require(results.first { $0.index == row.index }, "\(row): signature missing")
            #expect(got.result.word == row.result, "\(row): \(got.reason) — expected \(row.result): \(row.reason)")
            if row.domain != "-" { #expect(got.domain == row.domain) }
        }
    }

    /// Streaming: the library gives the same verdicts whatever the chunk size of the body.
    @Test(arguments: ["messages/canon-basic-rr.eml", "messages/canon-basic-ss.eml", "messages/rfc8463-appendix-a.eml",
                      "messages/multi-rsa-and-ed25519.eml"])
    func verdictDoesNotDependOnChunking(_ file: String) throws {
        let message = try Fixtures.bytes("corpus/" + file)
        let whole = try Self.verifier.verify(message: message, now: Self.now).signatures.map(\.result.word)
        for size in Chunking.smallSizes + [64, 1000] {
            var parser = MessageParser()
            var session = VerificationSession(crypto: OpenSSLCryptoProvider(), now: Self.now)
            var names: [String] = []
            func handle(_ e: MessageParser.Event) {
                switch e {
                case .header(let f): session.append(f)
                case .endOfHeaders: names = session.endOfHeaders()
                case .body(let b): session.appendBody(b)
                }
            }
            for chunk in Chunking.split(message, size: size) { try parser.parse(chunk, handle) }
            try parser.finish(handle)
            #expect(!names.isEmpty)
            let results = session.finish { Self.resolver.lookupTXT($0) }.map(\.result.word)
            #expect(results == whole, "chunk size \(size)")
        }
        #expect(whole.allSatisfy { $0 == "pass" })
    }
}

/// The copy in Tests/Fixtures/corpus must equal the team's shared corpus when it sits beside the
/// repository (as on the team's machines and in CI); contrib/sync-corpus.sh brings it up to date.
@Suite struct CorpusCopyTests {
    static func files(under root: String) -> [String: Data] {
        var out: [String: Data] = [:]
        guard let e = FileManager.default.enumerator(atPath: root) else { return out }
        while let path = e.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &isDirectory), !isDirectory.boolValue {
                out[path] = FileManager.default.contents(atPath: root + "/" + path)
            }
        }
        return out
    }

    @Test func copyEqualsTheSharedCorpus() {
        let local = Self.files(under: Fixtures.corpus)
        #expect(local.count > 250, "the corpus copy is incomplete: \(local.count) files")
        let shared = URL(fileURLWithPath: Fixtures.repositoryRoot).deletingLastPathComponent().path + "/shared/corpus"
        guard FileManager.default.fileExists(atPath: shared) else { return }
        let theirs = Self.files(under: shared)
        #expect(Set(local.keys) == Set(theirs.keys), "files differ: run contrib/sync-corpus.sh")
        let changed = local.keys.filter { theirs[$0] != nil && theirs[$0] != local[$0] }.sorted()
        #expect(changed.isEmpty, "changed in ../shared/corpus: \(changed.prefix(5)); run contrib/sync-corpus.sh")
    }
}
