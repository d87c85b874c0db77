import DKIMTestSupport
import Foundation
import Testing

@Suite("dkimkey sign, then dkimkey verify", .generatedKeys)
struct SignVerifyTests {
    static let canonicalizations = ["simple/simple", "relaxed/simple", "simple/relaxed", "relaxed/relaxed"]
    static let keyTypes = ["rsa", "ed25519"]
    /// A plain message and one with folded, multi-line header fields and an empty-valued field.
    static let messages = ["signing/sign-basic-rr.eml", "signing/sign-folded-rr.eml"]

    static func sign(_ key: GeneratedKey, _ file: String, _ extra: [String] = []) throws -> ProcessRunner.Result {
        try CLI.run(["sign", "--key", key.pemPath, "--domain", key.domain, "--selector", key.selector] + extra + [file])
    }

    /// Signs `input` (written to `dir`) and returns the output, checked to be exactly one header
    /// field on top of the unchanged input.
    static func signChecked(_ key: GeneratedKey, input: [UInt8], in dir: String, name: String = "in.eml",
                            _ extra: [String] = [],
                            sourceLocation: SourceLocation = #_sourceLocation) throws -> SignedOutput {
        let path = dir + "/" + name
        try CLI.write(input, to: path)
        let r = try sign(key, path, extra)
        try #require(r.status == 0, "sign failed: \(r.summary)", sourceLocation: sourceLocation)
        #expect(r.stderr.isEmpty, "\(r.stderr)", sourceLocation: sourceLocation)
        let out = try SignedOutput(r.stdout)
        #expect(out.rest == input, "the message bytes after the new field were changed", sourceLocation: sourceLocation)
        try CLI.write(r.stdout, to: dir + "/signed-" + name)
        return out
    }

    /// `verify --json` of one file, with its one JSON line.
    static func verifyJSON(_ file: String, records: String,
                           extra: [String] = []) throws -> (ProcessRunner.Result, [String: Any]) {
        let r = try CLI.run(["verify", "--json", "--records", records] + extra + [file])
        let lines = try r.jsonLines()
        try #require(lines.count == 1, "\(r.summary)")
        return (r, lines[0])
    }

    static func signatures(_ json: [String: Any]) throws -> [[String: Any]] {
        try #require(json["signatures"] as? [[String: Any]], "no signatures list: \(json)")
    }

    /// The structural promises about a new field: the name, folding at 78, CRLF or LF as the input.
    static func checkFieldShape(_ out: SignedOutput, lineEnding: String,
                                sourceLocation: SourceLocation = #_sourceLocation) {
        let text = out.fieldText
        #expect(text.hasPrefix("DKIM-Signature: v=1;"), "\(text)", sourceLocation: sourceLocation)
        #expect(text.hasSuffix(lineEnding), sourceLocation: sourceLocation)
        if lineEnding == "\n" {
            #expect(!text.contains("\r"), "CR in the field of an LF message", sourceLocation: sourceLocation)
        } else {
            #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "bare LF in a CRLF field",
                    sourceLocation: sourceLocation)
        }
        for (i, line) in out.lines.enumerated() {
            #expect(line.utf8.count <= 78, "line \(i + 1) has \(line.utf8.count) characters: \(line)",
                    sourceLocation: sourceLocation)
            if i > 0 {
                #expect(line.first == "\t" || line.first == " ", "line \(i + 1) is not a continuation",
                        sourceLocation: sourceLocation)
            }
            #expect(!line.isEmpty && line.last != " " && line.last != "\t", "line \(i + 1) ends in whitespace",
                    sourceLocation: sourceLocation)
        }
        let names = out.tags.map(\.name)
        #expect(names.last == "b", "b= is not last: \(names)", sourceLocation: sourceLocation)
        #expect(Set(names).count == names.count, "a tag appears twice: \(names)", sourceLocation: sourceLocation)
        for required in ["v", "a", "d", "s", "h", "bh", "b", "c", "t"] {
            #expect(names.contains(required), "no \(required)= in \(names)", sourceLocation: sourceLocation)
        }
        if let b = out.tag("b") {
            #expect(Data(base64Encoded: b) != nil, "b= is not base64", sourceLocation: sourceLocation)
        }
        if let bh = out.tag("bh") {
            #expect(Data(base64Encoded: bh)?.count == 32, "bh= is not a SHA-256", sourceLocation: sourceLocation)
        }
    }

    // MARK: Round trips

    @Test(arguments: keyTypes, canonicalizations)
    func signedMessageVerifiesWithTheGeneratedRecord(keyType: String, canonicalization: String) throws {
        let keys = try GeneratedKeys.shared()
        let key = keys.key(keyType)
        try CLI.withTemporaryDirectory { dir in
            for (n, message) in Self.messages.enumerated() {
                let input = try CLI.read(CLI.corpus(message))
                let name = "m\(n).eml"
                let out = try Self.signChecked(key, input: input, in: dir, name: name,
                                               ["--canonicalization", canonicalization])
                Self.checkFieldShape(out, lineEnding: "\r\n")
                #expect(out.tag("a") == (keyType == "rsa" ? "rsa-sha256" : "ed25519-sha256"))
                #expect(out.tag("c") == canonicalization)
                #expect(out.tag("d") == key.domain)
                #expect(out.tag("s") == key.selector)
                #expect(out.tag("v") == "1")

                let (r, json) = try Self.verifyJSON(dir + "/signed-" + name, records: keys.recordsFile)
                #expect(r.status == 0, "\(message): \(r.summary)")
                let sigs = try Self.signatures(json)
                try #require(sigs.count == 1, "\(json)")
                #expect(sigs[0]["result"] as? String == "pass", "\(message): \(sigs[0])")
                #expect(sigs[0]["index"] as? Int == 1)
                #expect(sigs[0]["domain"] as? String == key.domain)
                #expect(sigs[0]["selector"] as? String == key.selector)
                #expect(sigs[0]["algorithm"] as? String == out.tag("a"))
                #expect(json["aligned"] as? Bool == true, "\(json)")
                #expect(json["from_domain"] as? String == "example.com")
            }
        }
    }

    @Test(arguments: keyTypes)
    func textVerifyReportsPassAndAlignment(keyType: String) throws {
        let keys = try GeneratedKeys.shared()
        try CLI.withTemporaryDirectory { dir in
            _ = try Self.signChecked(keys.key(keyType), input: try CLI.read(CLI.corpus(Self.messages[0])), in: dir)
            let r = try CLI.run(["verify", "--records", keys.recordsFile, dir + "/signed-in.eml"])
            #expect(r.status == 0, "\(r.summary)")
            #expect(r.stderr.isEmpty)
            let out = r.stdoutText
            #expect(out.contains("signed-in.eml: 1 signature; From domain example.com"), "\(out)")
            #expect(out.contains("[1] d=example.com s=\(keys.key(keyType).selector)"), "\(out)")
            #expect(out.contains("pass, aligned with From"), "\(out)")
        }
    }

    @Test(arguments: keyTypes)
    func lfInputIsSignedWithAnLFSignatureThatVerifies(keyType: String) throws {
        let keys = try GeneratedKeys.shared()
        try CLI.withTemporaryDirectory { dir in
            for message in Self.messages {
                let input = MessageBytes.toLF(try CLI.read(CLI.corpus(message)))
                try #require(!input.contains(0x0D))
                let out = try Self.signChecked(keys.key(keyType), input: input, in: dir)
                Self.checkFieldShape(out, lineEnding: "\n")
                let (r, json) = try Self.verifyJSON(dir + "/signed-in.eml", records: keys.recordsFile)
                #expect(r.status == 0, "\(message): \(r.summary)")
                #expect(try Self.signatures(json).first?["result"] as? String == "pass", "\(json)")
            }
        }
    }

    /// Changing a signed header or the body after signing makes verify fail (exit 1).
    @Test(arguments: keyTypes)
    func tamperingAfterSigningIsDetected(keyType: String) throws {
        let keys = try GeneratedKeys.shared()
        try CLI.withTemporaryDirectory { dir in
            _ = try Self.signChecked(keys.key(keyType), input: try CLI.read(CLI.corpus(Self.messages[0])), in: dir)
            let signed = String(decoding: try CLI.read(dir + "/signed-in.eml"), as: UTF8.self)
            let cases = [
                ("subject", signed.replacingOccurrences(of: "Subject: Invoice 4471", with: "Subject: Invoice 4472"),
                 "signature_mismatch"),
                ("body", signed.replacingOccurrences(of: "Hello,", with: "Hullo,"), "body_hash_mismatch"),
            ]
            for (what, text, code) in cases {
                try #require(text != signed, "the \(what) edit did not apply")
                try CLI.write(text, to: dir + "/tampered.eml")
                let (r, json) = try Self.verifyJSON(dir + "/tampered.eml", records: keys.recordsFile)
                #expect(r.status == 1, "\(what): \(r.summary)")
                let sig = try #require(try Self.signatures(json).first)
                #expect(sig["result"] as? String == "fail", "\(what): \(json)")
                #expect(sig["code"] as? String == code, "\(what): \(json)")
                #expect(json["aligned"] as? Bool == false)
            }
        }
    }

    // MARK: Tags

    @Test func explicitHeaderListIsWrittenExactly() throws {
        let keys = try GeneratedKeys.shared()
        try CLI.withTemporaryDirectory { dir in
            let out = try Self.signChecked(keys.rsa, input: try CLI.read(CLI.corpus(Self.messages[0])), in: dir,
                                           ["--headers", "from:to:from"])
            #expect(out.tag("h") == "from:to:from")
            #expect(out.fieldText.contains("h=from:to:from;"), "\(out.fieldText)")
            let (r, _) = try Self.verifyJSON(dir + "/signed-in.eml", records: keys.recordsFile)
            #expect(r.status == 0, "\(r.summary)")
        }
    }

    @Test func defaultHeaderListOversignsFrom() throws {
        let keys = try GeneratedKeys.shared()
        try CLI.withTemporaryDirectory { dir in
            for message in Self.messages + ["signing/sign-repeated-headers.eml", "signing/sign-oversigned.eml"] {
                let input = try CLI.read(CLI.corpus(message))
                let out = try Self.signChecked(keys.ed25519, input: input, in: dir)
                let signed = try #require(out.tag("h")).lowercased().split(separator: ":").map(String.init)
                let present = MessageBytes.headerNames(input)
                func count(_ name: String, in list: [String]) -> Int { list.filter { $0 == name }.count }
                #expect(count("from", in: present) >= 1)
                #expect(count("from", in: signed) == count("from", in: present) + 1, "\(message): h=\(signed)")
                // Every other over-signed field the message has is covered at least once more too.
                for name in ["subject", "date", "to"] where count(name, in: present) > 0 {
                    #expect(count(name, in: signed) == count(name, in: present) + 1,
                            "\(message): \(name) in h=\(signed)")
                }
                #expect(!signed.contains("dkim-signature"))
                let (r, _) = try Self.verifyJSON(dir + "/signed-in.eml", records: keys.recordsFile)
                #expect(r.status == 0, "\(message): \(r.summary)")
            }
        }
    }

    /// The corpus case sign-with-body-length gives the expected l= (269) for relaxed/relaxed.
    @Test func bodyLengthAddsLAndToleratesAppendedContent() throws {
        let keys = try GeneratedKeys.shared()
        try CLI.withTemporaryDirectory { dir in
            let input = try CLI.read(CLI.corpus("signing/sign-with-body-length.eml"))
            let plain = try Self.signChecked(keys.rsa, input: input, in: dir, ["--headers", "from:to:subject"])
            #expect(plain.tag("l") == nil, "l= without --body-length")
            let out = try Self.signChecked(keys.rsa, input: input, in: dir,
                                           ["--body-length", "--headers", "from:to:subject"])
            #expect(out.tag("l") == "269", "\(out.fieldText)")
            var signed = try CLI.read(dir + "/signed-in.eml")
            #expect(try Self.verifyJSON(dir + "/signed-in.eml", records: keys.recordsFile).0.status == 0)
            // l= lets a footer be appended without breaking the signature (RFC 6376 §8.2).
            signed += Array("-- \r\nA mailing list footer\r\n".utf8)
            try CLI.write(signed, to: dir + "/appended.eml")
            let (r, json) = try Self.verifyJSON(dir + "/appended.eml", records: keys.recordsFile)
            #expect(r.status == 0, "\(r.summary)")
            #expect(try Self.signatures(json).first?["result"] as? String == "pass")
        }
    }

    @Test func timestampAndExpirationAreWrittenAndEnforced() throws {
        let keys = try GeneratedKeys.shared()
        try CLI.withTemporaryDirectory { dir in
            let out = try Self.signChecked(keys.ed25519, input: try CLI.read(CLI.corpus(Self.messages[0])), in: dir,
                                           ["--timestamp", "1700000000", "--expiration", "1700086400"])
            #expect(out.tag("t") == "1700000000")
            #expect(out.tag("x") == "1700086400")
            let file = dir + "/signed-in.eml"
            // Verified today, the signature has expired.
            let (expired, json) = try Self.verifyJSON(file, records: keys.recordsFile)
            #expect(expired.status == 1, "\(expired.summary)")
            let sig = try #require(try Self.signatures(json).first)
            #expect(sig["result"] as? String == "permerror", "\(sig)")
            #expect(string(sig, "reason").contains("expired"), "\(sig)")
            // Verified as of a time inside the window, it passes.
            let (inWindow, _) = try Self.verifyJSON(file, records: keys.recordsFile, extra: ["--now", "1700003600"])
            #expect(inWindow.status == 0, "\(inWindow.summary)")
        }
    }

    @Test func defaultTimestampIsNowAndThereIsNoExpiration() throws {
        let keys = try GeneratedKeys.shared()
        try CLI.withTemporaryDirectory { dir in
            let before = Int(Date().timeIntervalSince1970)
            let out = try Self.signChecked(keys.ed25519, input: try CLI.read(CLI.corpus(Self.messages[0])), in: dir)
            let after = Int(Date().timeIntervalSince1970)
            let t = try #require(out.tag("t").flatMap { Int($0) })
            #expect(t >= before - 1 && t <= after + 1, "t=\(t) not in [\(before), \(after)]")
            #expect(out.tag("x") == nil)
        }
    }

    @Test func expirationNotAfterTheTimestampIsRefused() throws {
        let keys = try GeneratedKeys.shared()
        let r = try Self.sign(keys.ed25519, CLI.corpus(Self.messages[0]),
                              ["--timestamp", "1700000000", "--expiration", "1700000000"])
        #expect(r.status == 2, "\(r.summary)")
        #expect(r.stderr.contains("--expiration"), "\(r.stderr)")
        #expect(r.stdout.isEmpty)
    }

    @Test func identityIsWrittenAsI() throws {
        let keys = try GeneratedKeys.shared()
        try CLI.withTemporaryDirectory { dir in
            let out = try Self.signChecked(keys.rsa, input: try CLI.read(CLI.corpus(Self.messages[0])), in: dir,
                                           ["--identity", "carol@mail.example.com"])
            #expect(out.tag("i") == "carol@mail.example.com")
            #expect(try Self.verifyJSON(dir + "/signed-in.eml", records: keys.recordsFile).0.status == 0)
        }
    }

    @Test func signingForAnotherDomainPassesButIsNotAligned() throws {
        let keys = try GeneratedKeys.shared()
        try CLI.withTemporaryDirectory { dir in
            let input = try CLI.read(CLI.corpus(Self.messages[0]))
            try CLI.write(input, to: dir + "/in.eml")
            let r = try CLI.run(["sign", "--key", keys.ed25519.pemPath, "--domain", "esp.example.net",
                                 "--selector", "k1", dir + "/in.eml"])
            try #require(r.status == 0, "\(r.summary)")
            try CLI.write(r.stdout, to: dir + "/signed.eml")
            try CLI.write("k1._domainkey.esp.example.net\t\(keys.ed25519.record)\n", to: dir + "/records.txt")
            let (v, json) = try Self.verifyJSON(dir + "/signed.eml", records: dir + "/records.txt")
            #expect(v.status == 0, "\(v.summary)")
            let sig = try #require(try Self.signatures(json).first)
            #expect(sig["result"] as? String == "pass")
            #expect(sig["aligned"] as? Bool == false)
            #expect(json["aligned"] as? Bool == false)
            let text = try CLI.run(["verify", "--records", dir + "/records.txt", dir + "/signed.eml"])
            #expect(text.stdoutText.contains("not aligned with From"), "\(text.stdoutText)")
        }
    }

    @Test func signingASignedMessageAddsTheNewSignatureOnTop() throws {
        let keys = try GeneratedKeys.shared()
        try CLI.withTemporaryDirectory { dir in
            _ = try Self.signChecked(keys.rsa, input: try CLI.read(CLI.corpus(Self.messages[0])), in: dir)
            let once = try CLI.read(dir + "/signed-in.eml")
            let twice = try Self.signChecked(keys.ed25519, input: once, in: dir, name: "again.eml")
            #expect(twice.tag("s") == keys.ed25519.selector)
            let (r, json) = try Self.verifyJSON(dir + "/signed-again.eml", records: keys.recordsFile)
            #expect(r.status == 0, "\(r.summary)")
            let sigs = try Self.signatures(json)
            #expect(sigs.map { $0["selector"] as? String } == [keys.ed25519.selector, keys.rsa.selector])
            #expect(sigs.map { $0["result"] as? String } == ["pass", "pass"])
        }
    }

    @Test func anAlgorithmThatDoesNotFitTheKeyIsRefused() throws {
        let keys = try GeneratedKeys.shared()
        let r = try Self.sign(keys.rsa, CLI.corpus(Self.messages[0]), ["--algorithm", "ed25519-sha256"])
        #expect(r.status == 2, "\(r.summary)")
        #expect(r.stderr.contains("ed25519"), "\(r.stderr)")
        #expect(r.stdout.isEmpty)
    }

    @Test(arguments: [
        ["--canonicalization", "relaxed/strict"],
        ["--headers", "to:subject"],
        ["--headers", "from::to"],
    ])
    func invalidSigningOptionsAreUsageErrors(extra: [String]) throws {
        let keys = try GeneratedKeys.shared()
        let r = try Self.sign(keys.rsa, CLI.corpus(Self.messages[0]), extra)
        #expect(r.status == 2, "\(extra): \(r.summary)")
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.contains(extra[0]), "\(r.stderr)")
    }

    /// Values that make a signature no verifier accepts (a `;` or space in d= or s=, i= outside
    /// d= or without @, t=/x= over 12 digits: RFC 6376 §3.5) should be refused with exit 2, as
    /// `generate` refuses such names, instead of being written into the signature.
    @Test(arguments: [
        ["--domain", "example.com; x=1"],
        ["--domain", "example..com"],
        ["--selector", "a b"],
        ["--identity", "user@other.org"],
        ["--identity", "user"],
        ["--expiration", "99999999999999"],
        ["--timestamp", "1000000000000"],
    ])
    func signRefusesValuesThatMakeAnInvalidSignature(option: [String]) throws {
        let keys = try GeneratedKeys.shared()
        try CLI.withTemporaryDirectory { dir in
            var arguments = ["sign", "--key", keys.ed25519.pemPath, "--domain", "example.com",
                             "--selector", keys.ed25519.selector]
            if let i = arguments.firstIndex(of: option[0]) { arguments[i + 1] = option[1] } else { arguments += option }
            let r = try CLI.run(arguments + [CLI.corpus(Self.messages[0])])
            #expect(r.endedNormally, "\(r.summary)")
            if r.status == 0 {
                // Show what the product's own verifier makes of it.
                try CLI.write(r.stdout, to: dir + "/signed.eml")
                let record = "\(keys.ed25519.selector)._domainkey.example.com\t\(keys.ed25519.record)\n"
                try CLI.write(record, to: dir + "/records.txt")
                let v = try CLI.run(["verify", "--records", dir + "/records.txt", dir + "/signed.eml"])
                #expect(v.status != 0, "\(option): a signature that verifies is not invalid: \(v.summary)")
            }
            #expect(r.status == 2, "\(option): \(r.summary)")
        }
    }

    // MARK: The corpus signing cases

    /// Every case of the corpus `signing.tsv`, signed through the command line with the corpus key:
    /// the requested tags, the expected `bh=`, and a passing signature with the corpus records
    /// (all outputs verified in one `verify` call).
    @Test func corpusSigningCasesGiveTheExpectedBodyHashAndVerify() throws {
        let cases = Corpus.signingCases
        try #require(cases.count >= 30, "signing.tsv not read")
        try CLI.withTemporaryDirectory { dir in
            var files: [String] = []
            for c in cases {
                var arguments = ["sign", "--key", CLI.corpus(c.key), "--domain", c.domain, "--selector", c.selector,
                                 "--algorithm", c.algorithm, "--canonicalization", c.canonicalization,
                                 "--headers", c.headers.joined(separator: ":"), "--timestamp", "1700000000"]
                if c.bodyLength != nil { arguments.append("--body-length") }
                let input = try CLI.read(CLI.corpus(c.message))
                let r = try CLI.run(arguments + [CLI.corpus(c.message)])
                #expect(r.status == 0, "\(c): \(r.summary)")
                guard r.status == 0 else { continue }
                let out = try SignedOutput(r.stdout)
                #expect(out.rest == input, "\(c): input bytes changed")
                #expect(out.tag("bh") == c.bodyHash, "\(c): bh=\(out.tag("bh") ?? "-")")
                #expect(out.tag("h") == c.headers.joined(separator: ":"), "\(c)")
                #expect(out.tag("c") == c.canonicalization, "\(c)")
                #expect(out.tag("a") == c.algorithm, "\(c)")
                #expect(out.tag("l") == c.bodyLength.map(String.init), "\(c): l=\(out.tag("l") ?? "-")")
                #expect(out.tags.last?.name == "b", "\(c)")
                #expect(out.lines.allSatisfy { $0.utf8.count <= 78 }, "\(c): a line over 78")
                let file = dir + "/" + c.name + ".eml"
                try CLI.write(r.stdout, to: file)
                files.append(file)
            }
            let v = try CLI.run(["verify", "--json", "--records", CLI.corpusRecords] + files)
            #expect(v.status == 0, "\(v.summary)")
            let lines = try v.jsonLines()
            #expect(lines.count == files.count)
            for (file, json) in zip(files, lines) {
                #expect(json["file"] as? String == file)
                let first = try Self.signatures(json).first
                #expect(first?["result"] as? String == "pass", "\(file): \(first ?? [:])")
            }
        }
    }

    /// An Ed25519 key given as a base64 seed signs exactly as the same key in PEM (Ed25519 is
    /// deterministic), and PKCS#1 RSA keys from the corpus are accepted.
    @Test func ed25519SeedAndPEMGiveTheSameSignature() throws {
        let message = CLI.corpus(Self.messages[0])
        let common = ["--domain", "example.com", "--selector", "seda", "--timestamp", "1700000000"]
        let pem = try CLI.run(["sign", "--key", CLI.corpus("keys/ed25519a.pem")] + common + [message])
        let seed = try CLI.run(["sign", "--key", CLI.corpus("keys/ed25519a.ed25519-seed.b64")] + common + [message])
        #expect(pem.status == 0, "\(pem.summary)")
        #expect(seed.status == 0, "\(seed.summary)")
        #expect(pem.stdout == seed.stdout)
    }
}
