import DKIM
import DKIMOpenSSL
import DKIMTestSupport
import Foundation
import Testing
@testable import DKIMMilter
@testable import DKIMMilterCore

/// The lazy key store over table files (the PostgreSQL tables are tested with a real server).
@Suite struct LazyKeyStoreTests {
    static var pem: String { (try? Fixtures.text("corpus/keys/rsa2048a.pem")) ?? "" }

    func store(keyTable: String, signingTable: String?, badRows: DKIMMilter.Locked<[String]> = DKIMMilter.Locked([]),
               multiple: Bool = false) -> LazyKeyStore {
        var settings = LazyKeyStore.Settings()
        settings.multipleSignatures = multiple
        return LazyKeyStore(signingTable: signingTable.map {
                                FileDataset(text: $0, path: "SigningTable", keyTable: false)
                            },
                            keyTable: FileDataset(text: keyTable, path: "KeyTable", keyTable: true),
                            loader: OpenSSLCryptoProvider(), safety: nil, settings: settings,
                            badRow: { row, problem in badRows.withLock { $0.append("\(row): \(problem)") } })
    }

    /// OpenDKIM's order: the whole address first, then the domain.
    @Test func theAddressIsLookedUpBeforeTheDomain() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        try Self.pem.write(toFile: dir + "/k.pem", atomically: true, encoding: .utf8)
        let s = store(keyTable: "alice example.com:alice:\(dir)/k.pem\nall example.com:all:\(dir)/k.pem\n",
                      signingTable: "alice@example.com alice\nexample.com all\n")
        #expect(try s.keys(forAuthor: "Alice@Example.com").map(\.selector) == ["alice"])
        #expect(try s.keys(forAuthor: "bob@example.com").map(\.selector) == ["all"])
        #expect(try s.keys(forAuthor: "bob@other.example").isEmpty)
        #expect(s.cachedAuthors == 3)
    }

    /// The key column may hold the PEM itself; `%` stands for the author's domain.
    @Test func aKeyTableRowMayHoldThePEMAndThePercentDomain() throws {
        let s = LazyKeyStore(signingTable: nil, keyTable: PEMRow(pem: Self.pem), loader: OpenSSLCryptoProvider(),
                             safety: nil)
        let keys = try s.keys(forAuthor: "a@example.org")
        #expect(keys.map(\.domain) == ["example.org"] && keys.map(\.selector) == ["sel"])
    }

    /// A bad row is named by its key, reported once, and skipped: no crash, no signature from it.
    @Test(arguments: [("bad example.com::/nonexistent", "SELECTOR"), ("bad x;y=z.example:s:/k", "DOMAIN"),
                      ("bad example.com:s:/nonexistent/k.pem", "does not exist")])
    func badRowsAreNamedAndSkipped(_ row: String, _ said: String) throws {
        let bad = DKIMMilter.Locked<[String]>([])
        let s = store(keyTable: row + "\n", signingTable: "example.com bad\n", badRows: bad)
        #expect(try s.keys(forAuthor: "a@example.com").isEmpty)
        _ = try s.keys(forAuthor: "b@example.com")
        let lines = bad.withLock { $0 }
        #expect(lines.count == 1, "\(lines)")
        #expect(lines.first?.hasPrefix("bad: ") == true && lines.first?.contains(said) == true, "\(lines)")
    }

    @Test func aSigningTableNamingAMissingKeyIsReported() throws {
        let bad = DKIMMilter.Locked<[String]>([])
        let s = store(keyTable: "", signingTable: "example.com ghost\n", badRows: bad)
        #expect(try s.keys(forAuthor: "a@example.com").isEmpty)
        #expect(bad.withLock { $0 }.first?.contains("names the key \"ghost\", which is not in the KeyTable") == true)
    }
}

/// A KeyTable whose one row keeps its key in the key column itself (as a database column can).
private struct PEMRow: Dataset {
    let pem: String
    var description: String { "test rows" }
    func get(_ key: String, deadline: DispatchTime) throws(DatasetError) -> [String]? {
        key == "example.org" ? ["%", "sel", pem] : nil
    }
}
