import DKIMTestSupport
import Foundation
import Testing

@Suite("dkimkey verify on the corpus")
struct VerifyCorpusTests {
    static func verify(_ files: [String], _ extra: [String] = []) throws -> ProcessRunner.Result {
        try CLI.run(["verify", "--records", CLI.corpusRecords] + extra + files.map(CLI.corpus))
    }

    static func signatures(_ json: [String: Any]) throws -> [[String: Any]] {
        try #require(json["signatures"] as? [[String: Any]], "no signatures list: \(json)")
    }

    /// Every message of expected.tsv in one call: one JSON line per file, in order, with the
    /// documented keys, and each signature's result as the corpus expects (or an also-OK one).
    @Test func jsonIsOneObjectPerFilePerLineWithTheDocumentedKeys() throws {
        let files = Corpus.messageFiles
        try #require(files.count > 100, "expected.tsv not read")
        let r = try Self.verify(files, ["--json"])
        #expect(r.status == 1, "some corpus messages fail: \(r.summary)")
        #expect(r.stderr.isEmpty, "\(r.stderr)")
        #expect(r.stdoutText.hasSuffix("\n"))
        let lines = try r.jsonLines()
        try #require(lines.count == files.count, "\(lines.count) lines for \(files.count) files")
        let expected = Dictionary(grouping: Corpus.expectations, by: \.file)
        var absentKeys: [String] = []
        for (file, json) in zip(files, lines) {
            #expect(Set(json.keys) == ["file", "signatures", "from_domain", "aligned"], "\(file): \(json.keys.sorted())")
            #expect(json["file"] as? String == CLI.corpus(file))
            #expect(json["aligned"] is Bool)
            #expect(json["from_domain"] is String || json["from_domain"] is NSNull, "\(file)")
            let sigs = try Self.signatures(json)
            for (i, sig) in sigs.enumerated() {
                for key in ["index", "result", "reason", "aligned"] {
                    #expect(sig.keys.contains(key), "\(file)#\(i + 1): no \(key) in \(sig.keys.sorted())")
                }
                for key in ["domain", "selector", "algorithm"] where !sig.keys.contains(key) {
                    absentKeys.append("\(file)#\(i + 1): \(key)")
                }
                #expect(sig["index"] as? Int == i + 1, "\(file): indexes are 1, 2, ... from the top")
                #expect(!string(sig, "reason").isEmpty)
                #expect(sig["explanation"] == nil, "explanation without --explain")
            }
            let rows = expected[file] ?? []
            if rows.count == 1, rows[0].index == 0 {
                #expect(sigs.isEmpty, "\(file) is unsigned")
            } else {
                #expect(sigs.count == rows.count, "\(file): \(sigs.count) signatures, expected \(rows.count)")
                for row in rows where row.index >= 1 && row.index <= sigs.count {
                    let got = sigs[row.index - 1]["result"] as? String ?? "-"
                    #expect(got == row.result || row.alsoOK.contains(got), "\(row): \(got), expected \(row.result)")
                }
            }
            // aligned is true exactly when some signature passed and is aligned.
            let anyAligned = sigs.contains { $0["result"] as? String == "pass" && $0["aligned"] as? Bool == true }
            #expect(json["aligned"] as? Bool == anyAligned, "\(file)")
        }
        // from_domain is written as null when unknown, but a signature's domain, selector and
        // algorithm are left out when its tag cannot be read (e.g. sig-missing-a.eml).
        #expect(absentKeys.isEmpty, "\(absentKeys)")
    }

    @Test func unsignedMessageHasNoSignaturesAndExitsOne() throws {
        let json = try Self.verify(["messages/unsigned-plain.eml"], ["--json"])
        #expect(json.status == 1, "\(json.summary)")
        let line = try #require(try json.jsonLines().first)
        #expect(try Self.signatures(line).isEmpty)
        #expect(line["aligned"] as? Bool == false)
        #expect(line["from_domain"] as? String == "example.com")

        let text = try Self.verify(["messages/unsigned-plain.eml"])
        #expect(text.status == 1)
        #expect(text.stdoutText.contains("no DKIM signature (dkim=none)"), "\(text.stdoutText)")
    }

    @Test(arguments: ["messages/tamper-body-one-char.eml", "messages/tamper-signed-header.eml",
                      "messages/key-nxdomain.eml", "messages/alg-rsa-sha1-1024.eml", "messages/key-dns-tempfail.eml"])
    func failingMessageExitsOne(file: String) throws {
        let r = try Self.verify([file], ["--json"])
        #expect(r.status == 1, "\(r.summary)")
        #expect(r.stderr.isEmpty)
        let line = try #require(try r.jsonLines().first)
        let sig = try #require(try Self.signatures(line).first)
        #expect(["fail", "permerror", "temperror"].contains(string(sig, "result")), "\(sig)")
        #expect(sig["aligned"] as? Bool == false)
    }

    @Test func temporaryKeyFailureIsATempError() throws {
        let r = try Self.verify(["messages/key-dns-tempfail.eml"])
        #expect(r.status == 1)
        #expect(r.stdoutText.contains(": temperror"), "\(r.stdoutText)")
    }

    @Test func severalFilesGiveOneLineEachInOrder() throws {
        let files = ["messages/canon-basic-rr.eml", "messages/unsigned-plain.eml", "messages/alg-ed25519-sha256.eml",
                     "messages/tamper-body-one-char.eml"]
        let r = try Self.verify(files, ["--json"])
        #expect(r.status == 1, "one file does not pass: \(r.summary)")
        let lines = try r.jsonLines()
        #expect(lines.map { $0["file"] as? String } == files.map(CLI.corpus))
        #expect(try lines.map { try Self.signatures($0).first?["result"] as? String } == ["pass", nil, "pass", "fail"])

        // Text: one header line per file, then one line per signature.
        let text = try Self.verify(files)
        #expect(text.status == 1)
        let headers = text.stdoutText.split(separator: "\n").filter { !$0.hasPrefix(" ") }
        #expect(headers.count == files.count, "\(text.stdoutText)")
        for (line, file) in zip(headers, files) { #expect(line.hasPrefix(CLI.corpus(file) + ":"), "\(line)") }
    }

    @Test func allPassingFilesExitZero() throws {
        let files = ["messages/canon-basic-rr.eml", "messages/alg-ed25519-sha256.eml", "messages/multi-rsa-and-ed25519.eml",
                     "messages/multi-bad-on-top-good-below.eml"]
        let r = try Self.verify(files, ["--json"])
        #expect(r.status == 0, "\(r.summary)")
        #expect(try r.jsonLines().count == files.count)
    }

    /// LF-only files are verified as if every LF were CRLF: the results the corpus lists for them.
    @Test func lfFilesGiveTheCorpusResults() throws {
        let rows = Corpus.expectations.filter { $0.file.hasPrefix("messages-lf/") }
        try #require(rows.count >= 5)
        let r = try Self.verify(rows.map(\.file), ["--json"])
        let allPass = rows.allSatisfy { $0.result == "pass" }
        #expect(r.status == (allPass ? 0 : 1), "\(r.summary)")
        let lines = try r.jsonLines()
        try #require(lines.count == rows.count)
        for (row, line) in zip(rows, lines) {
            let got = string(try Self.signatures(line).first, "result")
            #expect(got == row.result || row.alsoOK.contains(got), "\(row): \(got), expected \(row.result)")
        }
        #expect(rows.contains { $0.result == "pass" })
    }

    // MARK: --explain

    @Test(arguments: ["messages/transit-body-trailing-wsp-rs.eml", "messages/transit-body-add-wsp-lines-at-end-rs.eml"])
    func explainOnAModifiedBodyNamesTheBodyHashAndALikelyCulprit(file: String) throws {
        let r = try Self.verify([file], ["--explain"])
        #expect(r.status == 1, "\(r.summary)")
        let out = r.stdoutText
        #expect(out.contains("body hash"), "\(out)")
        #expect(out.contains("likely culprit"), "\(out)")
    }

    @Test func explainOnTrailingWhitespaceNamesWhitespace() throws {
        let r = try Self.verify(["messages/transit-body-trailing-wsp-rs.eml"], ["--explain"])
        #expect(r.stdoutText.contains("likely culprit: whitespace added at line ends"), "\(r.stdoutText)")
    }

    @Test func explainOnAChangedBodyTextSaysNoTransformationExplainsIt() throws {
        let r = try Self.verify(["messages/tamper-body-one-char.eml"], ["--explain"])
        #expect(r.status == 1)
        #expect(r.stdoutText.contains("body hash"), "\(r.stdoutText)")
        #expect(r.stdoutText.contains("the text itself was changed"), "\(r.stdoutText)")
    }

    @Test func explainOnASimpleBodyChangedInWhitespaceSuggestsRelaxedBodyCanonicalization() throws {
        let r = try Self.verify(["messages/transit-body-more-spaces-ss.eml"], ["--explain"])
        #expect(r.status == 1)
        #expect(r.stdoutText.contains("body hash"), "\(r.stdoutText)")
        #expect(r.stdoutText.contains("relaxed body canonicalization"), "\(r.stdoutText)")
    }

    @Test(arguments: ["messages/transit-hdr-refold-sr.eml", "messages/transit-hdr-unfold-ss.eml"])
    func explainOnAModifiedHeaderNamesTheHeaderHashAndRelaxedCanonicalization(file: String) throws {
        let r = try Self.verify([file], ["--explain"])
        #expect(r.status == 1, "\(r.summary)")
        let out = r.stdoutText
        #expect(out.contains("header hash"), "\(out)")
        #expect(out.contains("relaxed"), "\(out)")
    }

    /// A second From added below the signed one: the JSON carries the explanation naming it.
    @Test func explainOnAnAddedFromNamesTheAddedField() throws {
        let r = try Self.verify(["messages/hsel-second-from-added-below.eml"], ["--explain", "--json"])
        #expect(r.status == 1)
        let line = try #require(try r.jsonLines().first)
        let sig = try #require(try Self.signatures(line).first)
        #expect(sig["result"] as? String == "fail")
        let explanation = try #require(sig["explanation"] as? [String], "no explanation in JSON: \(sig)")
        #expect(explanation.contains { $0.contains("header hash") }, "\(explanation)")
        #expect(explanation.contains { $0.contains("likely culprit") && $0.contains("\"From\"") }, "\(explanation)")
    }

    @Test func explainOnAMissingKeyShowsTheDNSName() throws {
        let r = try Self.verify(["messages/key-nxdomain.eml"], ["--explain"])
        #expect(r.status == 1)
        #expect(r.stdoutText.contains("the key"), "\(r.stdoutText)")
        #expect(r.stdoutText.contains("dig +short TXT skr-does-not-exist._domainkey.example.com"), "\(r.stdoutText)")
    }

    @Test func explainAddsNothingToPassingSignatures() throws {
        let plain = try Self.verify(["messages/canon-basic-rr.eml"])
        let explained = try Self.verify(["messages/canon-basic-rr.eml"], ["--explain"])
        #expect(explained.status == 0)
        #expect(explained.stdout == plain.stdout)
    }

    @Test func maxSignaturesLimitsWhatIsChecked() throws {
        let r = try Self.verify(["messages/multi-bad-on-top-good-below.eml"], ["--json", "--max-signatures", "1"])
        #expect(r.status == 1, "the good signature is below the limit: \(r.summary)")
        let sigs = try Self.signatures(try #require(try r.jsonLines().first))
        #expect(sigs.count == 2)
        #expect(sigs.last?["result"] as? String == "neutral", "\(sigs)")
        #expect(string(sigs.last, "reason").contains("not evaluated"), "\(sigs)")
    }
}
