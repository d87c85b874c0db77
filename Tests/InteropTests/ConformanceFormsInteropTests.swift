import DKIMTestSupport
import Foundation
import Testing

/// The conformance forms (`Tests/Fixtures/conformance-forms`, see its README): mixed line endings,
/// i= in dkim-quoted-printable, malformed d=/s=, key-record tag syntax and x= not after t=.
/// dkimkey must give the RFC's result for each; each reference verifier, judging the same bytes
/// (`verify --raw`), must still give what it gave when the fixtures were made, so a change in an
/// oracle or in the bytes is noticed.
@Suite(.serialized) struct ConformanceFormsInteropTests {
    typealias Oracle = InteropTests.Oracle
    static let directory = Fixtures.root + "/conformance-forms"
    static let records = directory + "/records.txt"
    static let generator = InteropTests.scripts + "/gen_conformance_forms.py"

    /// One row of `manifest.tsv`.
    struct Form: CustomStringConvertible, Sendable {
        var file: String
        var form: String
        var rfc: String
        var observed: [Oracle: String]
        var path: String { ConformanceFormsInteropTests.directory + "/" + file }
        var isLineEndingForm: Bool { form.hasPrefix("le-") }
        var canonicalization: String { file.hasSuffix("-ss.eml") ? "simple/simple" : "relaxed/relaxed" }
        var description: String { file }
    }

    static let manifestColumns = ["file", "form", "rfc", "dkimpy", "maildkim", "opendkim", "description", "why"]

    static let manifest: [Form] = {
        guard let text = try? Fixtures.text("conformance-forms/manifest.tsv") else { return [] }
        var rows = text.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        guard rows.first?.map(String.init) == manifestColumns else { return [] }
        rows.removeFirst()
        return rows.map { c in
            Form(file: String(c[0]), form: String(c[1]), rfc: String(c[2]),
                 observed: [.dkimpy: String(c[3]), .maildkim: String(c[4]), .opendkim: String(c[5])])
        }
    }()

    static var lineEndingForms: [Form] { manifest.filter(\.isLineEndingForm) }

    /// OpenDKIM's relaxed body canonicalization deletes a bare CR inside a line ("game.<CR>Are" is
    /// hashed as "game.Are"; RFC 6376 §3.4.4 keeps it, a CR is not WSP), so it fails every relaxed
    /// signature over such a body, ours included. What it says there is checked, not skipped.
    static func openDKIMDeletesTheBareCR(_ form: Form) -> Bool {
        form.file.contains("le-e-bare-cr-mid") && form.canonicalization == "relaxed/relaxed"
    }

    /// Every bare LF becomes CRLF; a bare CR stays data (as dkimkey reads it).
    static func crlfNormalized(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 20)
        for (i, b) in bytes.enumerated() {
            if b == 0x0A, i == 0 || bytes[i - 1] != 0x0D { out.append(0x0D) }
            out.append(b)
        }
        return out
    }

    /// dkimkey's results (topmost signature first) for each file, from `verify --json`.
    static func dkimkeyResults(_ files: [String], records: String) throws -> [String: [String]] {
        let r = try ProcessRunner.run(Fixtures.dkimkey, ["verify", "--json", "--records", records] + files)
        #expect(r.status == 0 || r.status == 1, "dkimkey verify: \(r.stderr)")
        var out: [String: [String]] = [:]
        for line in r.stdoutText.split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            guard let file = object?["file"] as? String else { continue }
            let signatures = object?["signatures"] as? [[String: Any]] ?? []
            out[file] = signatures.map { $0["result"] as? String ?? "?" }
        }
        return out
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// `dkimkey sign` with the form's c= and a fixed t=: the signed message.
    static func sign(_ path: String, canonicalization: String) throws -> [UInt8] {
        let r = try ProcessRunner.run(Fixtures.dkimkey, [
            "sign", "--key", Fixtures.corpus + "/keys/rsa2048a.pem", "--domain", "example.com",
            "--selector", "sr2048a", "--canonicalization", canonicalization, "--timestamp", "1700000000", path])
        #expect(r.status == 0, "dkimkey sign \(path): \(r.stderr)")
        return r.stdout
    }

    /// The topmost header field of a message with its line breaks as CRLF (our new DKIM-Signature).
    static func topField(_ message: [UInt8]) -> [UInt8] {
        var end = 0
        while let lf = message[end...].firstIndex(of: 0x0A) {
            end = lf + 1
            guard end < message.count, message[end] == 0x20 || message[end] == 0x09 else { break }
        }
        return crlfNormalized(Array(message[..<end]))
    }

    /// For every line-ending form: the fixture as stored signed by dkimkey (`mixed`), the same file
    /// with its bare LFs as CRLF signed by dkimkey (`normalized`), and `mixed` with its bare LFs as
    /// CRLF (`mixedNormalized`). Paths in `dir`.
    struct Signed {
        var form: Form
        var mixed: String
        var normalized: String
        var mixedNormalized: String
    }

    static func signLineEndingForms(into dir: String) throws -> [Signed] {
        try lineEndingForms.enumerated().map { i, form in
            let bytes = try Fixtures.bytes(form.path)
            let s = Signed(form: form, mixed: dir + "/\(i)-mixed.eml", normalized: dir + "/\(i)-normalized.eml",
                           mixedNormalized: dir + "/\(i)-mixed-normalized.eml")
            let input = dir + "/\(i)-input.eml"
            try write(crlfNormalized(bytes), to: input)
            let mixed = try sign(form.path, canonicalization: form.canonicalization)
            let normalized = try sign(input, canonicalization: form.canonicalization)
            #expect(topField(mixed) == topField(normalized),
                    "\(form): the signature over the mixed file differs from the one over its CRLF form")
            try write(mixed, to: s.mixed)
            try write(normalized, to: s.normalized)
            try write(crlfNormalized(mixed), to: s.mixedNormalized)
            return s
        }
    }

    @Test func manifestListsEveryFixtureMessageOnce() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory + "/messages")
            .filter { $0.hasSuffix(".eml") }.map { "messages/" + $0 }
        #expect(Self.manifest.count == 42)
        #expect(Set(Self.manifest.map(\.file)).count == Self.manifest.count)
        #expect(Set(files) == Set(Self.manifest.map(\.file)))
        let results: Set = ["pass", "fail", "permerror", "none"]
        for form in Self.manifest {
            #expect(results.contains(form.rfc), "\(form): rfc column \(form.rfc)")
            for oracle in Oracle.allCases {
                #expect(results.contains(form.observed[oracle] ?? ""), "\(form): \(oracle) column")
            }
        }
    }

    @Test func generatorReproducesTheCommittedFixtures() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let r = try ProcessRunner.run("/usr/bin/python3", [Self.generator, "--no-observe", "--out", dir])
        #expect(r.status == 0, "\(r.stderr)")
        for form in Self.manifest {
            #expect(try Fixtures.bytes(dir + "/" + form.file) == Fixtures.bytes(form.path), "\(form) differs")
        }
        #expect(try Fixtures.bytes(dir + "/records.txt") == Fixtures.bytes(Self.records))
        // The manifest without the observed columns (the generator leaves them "-" here).
        func withoutObservations(_ path: String) throws -> [[Substring]] {
            try Fixtures.text(path).split(separator: "\n").map {
                let c = $0.split(separator: "\t", omittingEmptySubsequences: false)
                return Array(c[0..<3] + c[6...])
            }
        }
        #expect(try withoutObservations(dir + "/manifest.tsv")
                == withoutObservations(Self.directory + "/manifest.tsv"))
    }

    @Test func dkimkeyGivesTheRFCResultForEveryForm() throws {
        let results = try Self.dkimkeyResults(Self.manifest.map(\.path), records: Self.records)
        #expect(results.count == Self.manifest.count)
        for form in Self.manifest {
            let ours = results[form.path] ?? []
            #expect(ours.count == 1, "\(form): \(ours)")
            #expect(ours.first == form.rfc, "\(form): dkimkey says \(ours), the RFC \(form.rfc)")
        }
    }

    @Test(arguments: Oracle.allCases)
    func referenceVerifierJudgesTheExactBytesAsRecorded(_ oracle: Oracle) throws {
        let results = try oracle.verify(Self.manifest.map(\.path), records: Self.records, raw: true)
        for form in Self.manifest {
            let seen = results[form.path] ?? []
            #expect(seen.count <= 1, "\(oracle) \(form): \(seen)")
            #expect((seen.first ?? "none") == form.observed[oracle],
                    "\(oracle) \(form): now \(seen.first ?? "none"), recorded \(form.observed[oracle] ?? "?")")
        }
    }

    @Test func ourSignaturesOverMixedLineEndingsPassDkimpyOnTheExactBytes() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let signed = try Self.signLineEndingForms(into: dir)
        #expect(signed.count == 20)
        let dkimpy = try Oracle.dkimpy.verify(signed.map(\.mixed), records: Self.records, raw: true)
        let ours = try Self.dkimkeyResults(signed.map(\.mixed), records: Self.records)
        for s in signed {
            // The topmost signature is ours; the fixture's own one below is judged elsewhere.
            #expect(dkimpy[s.mixed]?.first == "pass", "dkimpy on \(s.form) signed as stored: \(dkimpy[s.mixed] ?? [])")
            #expect(ours[s.mixed]?.first == "pass", "dkimkey on \(s.form) signed as stored: \(ours[s.mixed] ?? [])")
        }
    }

    @Test func ourSignaturesOverMixedLineEndingsPassAllThreeOnTheCRLFBytes() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let signed = try Self.signLineEndingForms(into: dir)
        let files = signed.flatMap { [$0.normalized, $0.mixedNormalized] }
        var judged = 0
        for oracle in Oracle.allCases {
            let results = try oracle.verify(files, records: Self.records, raw: true)
            for s in signed {
                let expected = oracle == .opendkim && Self.openDKIMDeletesTheBareCR(s.form) ? "fail" : "pass"
                let cases = [("the CRLF form signed", s.normalized), ("signed, then as CRLF", s.mixedNormalized)]
                for (what, path) in cases {
                    #expect(results[path]?.first == expected, "\(oracle) on \(s.form) \(what): \(results[path] ?? [])")
                    judged += 1
                }
            }
        }
        #expect(judged == 3 * 2 * 20)
    }
}
