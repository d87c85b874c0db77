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

/// The copy in Tests/Fixtures/corpus must be what contrib/sync-corpus.sh copied: every file listed in the
/// committed manifest Tests/Fixtures/corpus.sha256 with its checksum, and nothing else. Where the team's
/// shared corpus sits beside the repository (as on the team's machines and in CI) it must match the same
/// manifest, so a copy that is stale (the shared corpus moved on) or edited by hand fails either way.
@Suite struct CorpusCopyTests {
    static let manifestPath = Fixtures.root + "/corpus.sha256"
    static let shared = URL(fileURLWithPath: Fixtures.repositoryRoot).deletingLastPathComponent().path
        + "/shared/corpus"

    /// Every regular file under `root`, by path relative to it: its SHA-256 in hex.
    static func checksums(under root: String) -> [String: String] {
        var out: [String: String] = [:]
        guard let e = FileManager.default.enumerator(atPath: root) else { return out }
        while let path = e.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &isDirectory),
               !isDirectory.boolValue, let data = FileManager.default.contents(atPath: root + "/" + path) {
                out[path] = SHA256Digest.hash(Array(data)).map { String(format: "%02x", $0) }.joined()
            }
        }
        return out
    }

    /// The manifest, in `sha256sum` format ("HEX  PATH" a line): path → checksum.
    static func manifest() throws -> [String: String] {
        var out: [String: String] = [:]
        for line in try Fixtures.text(manifestPath).split(separator: "\n") {
            let hex = line.prefix(64)
            #expect(hex.count == 64 && hex.allSatisfy(\.isHexDigit) && line.dropFirst(64).hasPrefix("  "),
                    "corpus.sha256: not a sha256sum line: \(line)")
            out[String(line.dropFirst(66))] = String(hex)
        }
        return out
    }

    static func differences(_ files: [String: String], _ manifest: [String: String]) -> [String] {
        let missing = Set(manifest.keys).subtracting(files.keys).sorted().map { "missing: \($0)" }
        let extra = Set(files.keys).subtracting(manifest.keys).sorted().map { "not in the manifest: \($0)" }
        let changed = files.keys.filter { manifest[$0] != nil && manifest[$0] != files[$0] }.sorted()
            .map { "changed: \($0)" }
        return missing + extra + changed
    }

    @Test func copyMatchesTheCommittedManifestAndTheSharedCorpusWhenPresent() throws {
        let manifest = try Self.manifest()
        #expect(manifest.count == 266, "corpus.sha256 lists \(manifest.count) files")
        let local = Self.differences(Self.checksums(under: Fixtures.corpus), manifest)
        #expect(local.isEmpty,
                "Tests/Fixtures/corpus differs from corpus.sha256: \(local.prefix(5)); run contrib/sync-corpus.sh")
        if FileManager.default.fileExists(atPath: Self.shared) {
            let theirs = Self.differences(Self.checksums(under: Self.shared), manifest)
            #expect(theirs.isEmpty,
                    "\(Self.shared) differs from corpus.sha256: \(theirs.prefix(5)); run contrib/sync-corpus.sh")
        }
    }

    /// The manifest check itself notices each kind of drift (a file changed, added or removed).
    @Test func manifestComparisonNoticesChangedAddedAndMissingFiles() throws {
        let manifest = try Self.manifest()
        var files = manifest
        #expect(Self.differences(files, manifest).isEmpty)
        files["keys.txt"] = String(repeating: "0", count: 64)
        files["messages/new.eml"] = String(repeating: "1", count: 64)
        files["README.md"] = nil
        #expect(Self.differences(files, manifest) == ["missing: README.md", "not in the manifest: messages/new.eml",
                                                     "changed: keys.txt"])
    }
}
