import DKIMTestSupport
import Foundation
import Testing

/// Bad input never crashes the program: it exits 1 or 2 with a clear message.
@Suite("dkimkey on malformed input")
struct MalformedInputTests {
    /// A signed corpus message (rsa 2048, relaxed/relaxed, key sr2048a in keys.txt) split into
    /// its DKIM-Signature field and the rest.
    static let signedMessage: (signature: [UInt8], rest: [UInt8]) = {
        let bytes = (try? CLI.read(CLI.corpus("messages/canon-basic-rr.eml"))) ?? []
        let from = Array("\r\nFrom:".utf8)
        var i = 0
        while i + from.count <= bytes.count, Array(bytes[i..<(i + from.count)]) != from { i += 1 }
        return (Array(bytes[..<min(i + 2, bytes.count)]), Array(bytes[min(i + 2, bytes.count)...]))
    }()

    static var signedBytes: [UInt8] { signedMessage.signature + signedMessage.rest }

    static func replacing(_ bytes: [UInt8], _ old: String, with new: String) throws -> [UInt8] {
        let text = String(decoding: bytes, as: UTF8.self)
        try #require(text.contains(old), "\(old) not found")
        return Array(text.replacingOccurrences(of: old, with: new).utf8)
    }

    /// Writes `bytes` and runs `verify --json` on it with the corpus records.
    static func verify(_ bytes: [UInt8], _ extra: [String] = [], in dir: String, name: String = "m.eml",
                       timeout: TimeInterval = 60) throws -> ProcessRunner.Result {
        try CLI.write(bytes, to: dir + "/" + name)
        return try CLI.run(["verify", "--records", CLI.corpusRecords] + extra + [dir + "/" + name], timeout: timeout)
    }

    static func firstSignature(_ r: ProcessRunner.Result) throws -> [String: Any]? {
        let line = try #require(try r.jsonLines().first, "\(r.summary)")
        return (line["signatures"] as? [[String: Any]])?.first
    }

    /// Random bytes, and random sequences of DKIM-ish tokens (more likely to reach the parsers'
    /// corners), all in one verify call, with and without --explain and --json; each also signed.
    @Test func randomGarbageNeverCrashes() throws {
        try CLI.withTemporaryDirectory { dir in
            var rng = SplitMix64(state: 20_261_129)
            let tokens = ["DKIM-Signature:", "dkim-signature :", "From:", "from: a@example.com", "\r\n", "\n", "\r",
                          " ", "\t", ";", "=", ":", "v=1", "a=rsa-sha256", "a=ed25519-sha256", "c=relaxed/simple",
                          "c=simple", "d=example.com", "s=sr2048a", "s=seda", "h=from:to", "h=", "l=",
                          "l=99999999999999999999", "t=", "x=1", "bh=", "b=", "AAAA", "====", "\u{0}", "\u{FF}", "é",
                          "i=@", "q=dns/txt", "\r\n\r\n"]
            var files: [String] = []
            for n in 0..<24 {
                let bytes: [UInt8]
                if n % 2 == 0 {
                    bytes = rng.bytes(Int(rng.next() % 20_000))
                } else {
                    var text = ""
                    for _ in 0..<(rng.next() % 400) { text += tokens[Int(rng.next() % UInt64(tokens.count))] }
                    bytes = Array(text.utf8)
                }
                let path = dir + "/garbage-\(n).eml"
                try CLI.write(bytes, to: path)
                files.append(path)
            }
            for extra in [[], ["--explain"], ["--json", "--explain"]] {
                let r = try CLI.run(["verify", "--records", CLI.corpusRecords] + extra + files)
                expectCleanFailure(r, allowed: [1])
                if extra.contains("--json") { #expect(try r.jsonLines().count == files.count) }
            }
            for file in files.prefix(6) {
                let r = try CLI.run(["sign", "--key", CLI.corpus("keys/ed25519a.pem"), "--domain", "example.com",
                                     "--selector", "seda", file])
                expectCleanFailure(r, allowed: [0, 2])
            }
        }
    }

    @Test func emptyFileIsReportedUnsigned() throws {
        try CLI.withTemporaryDirectory { dir in
            let r = try Self.verify([], ["--json"], in: dir)
            expectCleanFailure(r, allowed: [1])
            let line = try #require(try r.jsonLines().first)
            #expect((line["signatures"] as? [Any])?.isEmpty == true, "\(line)")
        }
    }

    /// A message must have a From field (RFC 5322 §3.6); signing one without it makes a signature
    /// no verifier can use for DMARC, so it should be refused rather than silently produced.
    @Test(arguments: ["", "just some text without a header\r\n", "Subject: no from\r\n\r\nbody\r\n"])
    func signRefusesAMessageWithoutFrom(text: String) throws {
        try CLI.withTemporaryDirectory { dir in
            try CLI.write(text, to: dir + "/m.eml")
            let r = try CLI.run(["sign", "--key", CLI.corpus("keys/ed25519a.pem"), "--domain", "example.com",
                                 "--selector", "seda", dir + "/m.eml"])
            expectCleanFailure(r, allowed: [0, 2])
            #expect(r.status == 2, "\(r.summary)")
        }
    }

    @Test func oneMegabyteHeaderFieldIsHandled() throws {
        try CLI.withTemporaryDirectory { dir in
            let big = Array("X-Big: ".utf8) + [UInt8](repeating: 0x61, count: 1 << 20) + [0x0D, 0x0A]
            // Unsigned field above a signed message: still passes.
            let above = try Self.verify(big + Self.signedBytes, ["--json"], in: dir, name: "above.eml")
            #expect(above.status == 0, "\(above.summary)")
            #expect(try Self.firstSignature(above)?["result"] as? String == "pass")
            // Only the big field: no signature.
            let alone = try Self.verify(big, in: dir, name: "alone.eml")
            expectCleanFailure(alone, allowed: [1])
            #expect(alone.stdoutText.contains("no DKIM signature"), "\(alone.stdoutText.prefix(300))")
            // A 1 MB DKIM-Signature field (a huge b=): reported, not evaluated as a pass.
            let hugeSig = try Self.replacing(Self.signedBytes, "b=jOEJ",
                                             with: "b=" + String(repeating: "A", count: 1 << 20) + "jOEJ")
            let huge = try Self.verify(hugeSig, ["--json", "--explain"], in: dir, name: "huge.eml")
            expectCleanFailure(huge, allowed: [1])
            let hugeResult = string(try Self.firstSignature(huge), "result")
            #expect(["fail", "permerror"].contains(hugeResult), "\(hugeResult)")
            // A 1 MB line without any colon.
            let noColon = try Self.verify([UInt8](repeating: 0x62, count: 1 << 20), in: dir, name: "nocolon.eml")
            expectCleanFailure(noColon, allowed: [1])
            // Signing a message with a 1 MB field keeps it byte for byte.
            try CLI.write(big + Self.signedMessage.rest, to: dir + "/sign.eml")
            let signed = try CLI.run(["sign", "--key", CLI.corpus("keys/rsa2048a.pem"), "--domain", "example.com",
                                      "--selector", "sr2048a", dir + "/sign.eml"])
            #expect(signed.status == 0, "\(signed.summary)")
            #expect(try SignedOutput(signed.stdout).rest == big + Self.signedMessage.rest)
        }
    }

    /// 1,000 signatures whose body hash fails: at most --max-signatures (32) are evaluated, all
    /// 1,000 are reported, and it takes well under the time limit.
    @Test func thousandSignaturesAreReportedQuicklyAndFail() throws {
        try CLI.withTemporaryDirectory { dir in
            let tampered = Self.signedMessage.rest + Array("tampered\r\n".utf8)
            let message = Array([[UInt8]](repeating: Self.signedMessage.signature, count: 1000).joined()) + tampered
            let start = Date()
            let r = try Self.verify(message, ["--json"], in: dir, timeout: 60)
            let elapsed = Date().timeIntervalSince(start)
            expectCleanFailure(r, allowed: [1])
            #expect(elapsed < 15, "verify took \(elapsed) s")
            let line = try #require(try r.jsonLines().first)
            let sigs = try #require(line["signatures"] as? [[String: Any]])
            #expect(sigs.count == 1000)
            #expect(sigs.prefix(32).allSatisfy { $0["result"] as? String == "fail" })
            #expect(sigs.dropFirst(32).allSatisfy { $0["result"] as? String == "neutral" })
            #expect(sigs.last?["index"] as? Int == 1000)

            // 1,000 distinct broken signatures, explained.
            var broken: [UInt8] = []
            for k in 0..<1000 {
                broken += Array(("DKIM-Signature: v=1; a=rsa-sha256; d=ex\(k).example; s=s; h=from; "
                                 + "bh=AAAA; b=AAAA\r\n").utf8)
            }
            let start2 = Date()
            let e = try Self.verify(broken + Self.signedMessage.rest, ["--explain"], in: dir, name: "broken.eml")
            expectCleanFailure(e, allowed: [1])
            #expect(Date().timeIntervalSince(start2) < 15)
            #expect(e.stdoutText.contains("1000 signatures"), "\(e.stdoutText.prefix(300))")
        }
    }

    /// 1,000 copies of one valid signature: the first passes, so the message passes.
    @Test func thousandValidSignaturesPass() throws {
        try CLI.withTemporaryDirectory { dir in
            let message = Array([[UInt8]](repeating: Self.signedMessage.signature, count: 1000).joined())
                + Self.signedMessage.rest
            let r = try Self.verify(message, ["--json"], in: dir)
            #expect(r.status == 0, "\(r.summary)")
            let sigs = try #require(try r.jsonLines().first?["signatures"] as? [[String: Any]])
            #expect(sigs.count == 1000)
            #expect(sigs.first?["result"] as? String == "pass")
        }
    }

    enum Truncation: String, CaseIterable, Sendable {
        /// Inside the From field below the signature, without a line end.
        case inTheMiddleOfTheHeader
        /// Inside the b= value.
        case insideTheSignatureValue
        /// Inside the signature's tag list (in h=).
        case insideTheTagList
        /// Right after "DKIM-Signature:".
        case rightAfterTheFieldName
    }

    @Test(arguments: Truncation.allCases)
    func truncatedMessageFailsCleanly(cut: Truncation) throws {
        try CLI.withTemporaryDirectory { dir in
            let signatureLength = Self.signedMessage.signature.count
            let length = switch cut {
            case .inTheMiddleOfTheHeader: signatureLength + 20
            case .insideTheSignatureValue: signatureLength - 40
            case .insideTheTagList: 100
            case .rightAfterTheFieldName: 15
            }
            let r = try Self.verify(Array(Self.signedBytes.prefix(length)), ["--json", "--explain"], in: dir)
            expectCleanFailure(r, allowed: [1])
            let sig = try Self.firstSignature(r)
            #expect(sig != nil, "\(cut): the DKIM-Signature field was not reported")
            #expect(sig?["result"] as? String != "pass", "\(cut)")
            #expect(!string(sig, "reason").isEmpty)
        }
    }

    @Test(arguments: [("b=jOEJ", "b=j!@#", true), ("bh=K3I2", "bh=K%*~", true), ("b=jOEJ", "b=jOE=", false),
                      ("bh=K3I2", "bh=K3I", false)])
    func badBase64IsReportedAsAFailure(old: String, new: String, namesBase64: Bool) throws {
        try CLI.withTemporaryDirectory { dir in
            let message = try Self.replacing(Self.signedBytes, old, with: new)
            let r = try Self.verify(message, ["--json", "--explain"], in: dir)
            expectCleanFailure(r, allowed: [1])
            let sig = try #require(try Self.firstSignature(r))
            #expect(["fail", "permerror"].contains(string(sig, "result")), "\(sig)")
            if namesBase64 {
                let tag = String(new.prefix { $0 != "=" }) + "="
                let reason = string(sig, "reason")
                #expect(reason.contains(tag) && reason.contains("base64"), "\(sig)")
            }
        }
    }

    @Test func nonexistentMessageFileExitsTwoAndNamesIt() throws {
        try CLI.withTemporaryDirectory { dir in
            let missing = dir + "/no-such-message.eml"
            let r = try CLI.run(["verify", "--records", CLI.corpusRecords, missing])
            #expect(r.status == 2, "\(r.summary)")
            #expect(r.stderr.contains(missing), "\(r.stderr)")
            #expect(r.stderr.contains("does not exist"), "\(r.stderr)")
            #expect(r.stdout.isEmpty)

            // The other files are still reported; the exit is 2.
            let good = CLI.corpus("messages/canon-basic-rr.eml")
            let mixed = try CLI.run(["verify", "--json", "--records", CLI.corpusRecords, good, missing])
            #expect(mixed.status == 2, "\(mixed.summary)")
            #expect(try mixed.jsonLines().count == 1)
            #expect(mixed.stderr.contains(missing))

            let sign = try CLI.run(["sign", "--key", CLI.corpus("keys/ed25519a.pem"), "--domain", "example.com",
                                    "--selector", "seda", missing])
            #expect(sign.status == 2, "\(sign.summary)")
            #expect(sign.stderr.contains(missing), "\(sign.stderr)")
            #expect(sign.stdout.isEmpty)
        }
    }

    @Test func messagePathThatIsADirectoryExitsTwo() throws {
        try CLI.withTemporaryDirectory { dir in
            let r = try CLI.run(["verify", "--records", CLI.corpusRecords, dir])
            #expect(r.status == 2, "\(r.summary)")
            #expect(r.stderr.contains(dir) && r.stderr.contains("directory"), "\(r.stderr)")
        }
    }

    // MARK: Inputs that are not regular files (issue 18, finding 11)

    /// Runs the built `dkimkey` with its data segment capped at 1 GiB, so that a regression that
    /// reads an endless device fails fast instead of taking the shared machine's memory.
    static func runCapped(_ arguments: [String], timeout: TimeInterval = 20) throws -> ProcessRunner.Result {
        try ProcessRunner.run("/usr/bin/prlimit", ["--data=\(1 << 30)", Fixtures.dkimkey] + arguments, timeout: timeout)
    }

    static func signArguments(_ file: String) -> [String] {
        ["sign", "--key", CLI.corpus("keys/ed25519a.pem"), "--domain", "example.com", "--selector", "seda", file]
    }

    /// /dev/zero has size 0 and never ends: verify and sign refuse it at once as not a regular
    /// file, naming it, instead of reading until memory runs out.
    @Test func endlessDeviceIsRefusedAsNotARegularFile() throws {
        for arguments in [["verify", "--records", CLI.corpusRecords, "/dev/zero"], Self.signArguments("/dev/zero")] {
            let r = try Self.runCapped(arguments)
            #expect(!r.timedOut, "\(arguments[0]): \(r.summary)")
            #expect(r.status == 2, "\(arguments[0]): \(r.summary)")
            #expect(r.stderr.contains("/dev/zero is not a regular file"), "\(arguments[0]): \(r.stderr)")
            #expect(r.stdout.isEmpty)
        }
    }

    /// Opening a FIFO that no one writes to blocks forever: verify and sign must not wait for a
    /// writer; they refuse it as not a regular file within the time limit.
    @Test func fifoIsRefusedWithoutBlocking() throws {
        try CLI.withTemporaryDirectory { dir in
            let fifo = dir + "/message.fifo"
            try #require(mkfifo(fifo, 0o600) == 0, "mkfifo: \(String(cString: strerror(errno)))")
            for arguments in [["verify", "--records", CLI.corpusRecords, fifo], Self.signArguments(fifo)] {
                let start = Date()
                let r = try Self.runCapped(arguments, timeout: 20)
                #expect(!r.timedOut, "\(arguments[0]) blocked on the FIFO: \(r.summary)")
                #expect(Date().timeIntervalSince(start) < 15)
                #expect(r.status == 2, "\(arguments[0]): \(r.summary)")
                #expect(r.stderr.contains("\(fifo) is not a regular file"), "\(arguments[0]): \(r.stderr)")
            }
        }
    }

    /// A FIFO given as the key or the records file is refused the same way.
    @Test func fifoAsKeyOrRecordsFileIsRefusedWithoutBlocking() throws {
        try CLI.withTemporaryDirectory { dir in
            let fifo = dir + "/input.fifo"
            try #require(mkfifo(fifo, 0o600) == 0, "mkfifo: \(String(cString: strerror(errno)))")
            let message = CLI.corpus("messages/canon-basic-rr.eml")
            let runs = [["sign", "--key", fifo, "--domain", "example.com", "--selector", "seda", message],
                        ["verify", "--records", fifo, message]]
            for arguments in runs {
                let r = try Self.runCapped(arguments)
                #expect(!r.timedOut, "\(arguments): \(r.summary)")
                #expect(r.status == 2, "\(arguments): \(r.summary)")
                #expect(r.stderr.contains("\(fifo) is not a regular file"), "\(arguments): \(r.stderr)")
            }
        }
    }

    /// `-` reads the message from standard input, for both sign and verify.
    @Test func dashReadsTheMessageFromStandardInput() throws {
        let signed = try CLI.read(CLI.corpus("messages/canon-basic-rr.eml"))
        let verify = try CLI.run(["verify", "--json", "--records", CLI.corpusRecords, "-"], input: signed)
        #expect(verify.status == 0, "\(verify.summary)")
        #expect(string(try Self.firstSignature(verify), "result") == "pass")

        let message = try CLI.read(CLI.corpus("signing/sign-basic-rr.eml"))
        let sign = try CLI.run(Self.signArguments("-"), input: message)
        #expect(sign.status == 0, "\(sign.summary)")
        #expect(try SignedOutput(sign.stdout).rest == message)
    }

    /// Standard input is read with the same bound as files: an endless stream is refused once
    /// it passes the size limit, naming standard input, instead of exhausting memory.
    @Test func endlessStandardInputIsRefusedAtTheSizeLimit() throws {
        let script = "exec /usr/bin/prlimit --data=\(1 << 30) \"$0\" verify --records \"$1\" - < /dev/zero"
        let r = try ProcessRunner.run("/bin/sh", ["-c", script, Fixtures.dkimkey, CLI.corpusRecords], timeout: 60)
        #expect(!r.timedOut, "\(r.summary)")
        #expect(r.status == 2, "\(r.summary)")
        #expect(r.stderr.contains("standard input") && r.stderr.contains("bytes"), "\(r.stderr)")
    }

    // MARK: Key files for sign

    enum BadKey: String, CaseIterable, Sendable {
        case directory, nonexistent, garbage, empty, truncatedPEM, pemWithGarbageInside, publicKeyPEM
    }

    @Test(arguments: BadKey.allCases)
    func unusableKeyFileExitsTwoAndNamesTheFile(kind: BadKey) throws {
        try CLI.withTemporaryDirectory { dir in
            let keyPath: String
            let goodPEM = String(decoding: try CLI.read(CLI.corpus("keys/rsa2048a.pem")), as: UTF8.self)
            switch kind {
            case .directory:
                keyPath = dir + "/keydir"
                try FileManager.default.createDirectory(atPath: keyPath, withIntermediateDirectories: true)
            case .nonexistent:
                keyPath = dir + "/no-such-key.pem"
            case .garbage:
                keyPath = dir + "/garbage.pem"
                var rng = SplitMix64(state: 7)
                try CLI.write(rng.bytes(3000), to: keyPath)
            case .empty:
                keyPath = dir + "/empty.pem"
                try CLI.write([], to: keyPath)
            case .truncatedPEM:
                keyPath = dir + "/truncated.pem"
                try CLI.write(String(goodPEM.prefix(goodPEM.count / 2)), to: keyPath)
            case .pemWithGarbageInside:
                keyPath = dir + "/cut.pem"
                let lines = goodPEM.split(separator: "\n")
                try CLI.write((lines.prefix(6) + lines.suffix(1)).joined(separator: "\n") + "\n", to: keyPath)
            case .publicKeyPEM:
                keyPath = dir + "/public.pem"
                try CLI.write("-----BEGIN PUBLIC KEY-----\n"
                              + "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n"
                              + "-----END PUBLIC KEY-----\n",
                              to: keyPath)
            }
            let r = try CLI.run(["sign", "--key", keyPath, "--domain", "example.com", "--selector", "s1",
                                 CLI.corpus("signing/sign-basic-rr.eml")])
            #expect(r.status == 2, "\(kind): \(r.summary)")
            #expect(r.endedNormally, "\(kind): \(r.summary)")
            #expect(r.stdout.isEmpty, "\(kind): wrote output")
            #expect(r.stderr.hasPrefix("dkimkey: "), "\(kind): \(r.stderr)")
            #expect(r.stderr.contains(keyPath), "\(kind): the message does not name the file: \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(kind): \(r.stderr)")
        }
    }

    /// Root reads any file, so as root the command runs as nobody (setpriv), as a milter user would.
    @Test func unreadableKeyFileExitsTwoAndNamesTheFile() throws {
        try CLI.withTemporaryDirectory { dir in
            chmod(dir, 0o755)
            let keyPath = dir + "/locked.pem"
            try CLI.write(try CLI.read(CLI.corpus("keys/ed25519a.pem")), to: keyPath)
            chmod(keyPath, 0)
            defer { chmod(keyPath, 0o600) }
            let arguments = ["sign", "--key", keyPath, "--domain", "example.com", "--selector", "s1",
                             CLI.corpus("signing/sign-basic-rr.eml")]
            let r = getuid() == 0
                ? try ProcessRunner.run("/usr/bin/setpriv",
                                        ["--reuid=65534", "--regid=65534", "--clear-groups", Fixtures.dkimkey]
                                            + arguments)
                : try CLI.run(arguments)
            #expect(r.status == 2, "\(r.summary)")
            #expect(r.stderr.contains(keyPath) && r.stderr.contains("not readable"), "\(r.stderr)")
        }
    }

    @Test func rsaKeyBelow1024BitsIsRefusedForSigning() throws {
        let r = try CLI.run(["sign", "--key", CLI.corpus("keys/rsa512a.pem"), "--domain", "example.com",
                             "--selector", "s1", CLI.corpus("signing/sign-basic-rr.eml")])
        #expect(r.status == 2, "\(r.summary)")
        #expect(r.stderr.contains("1024"), "\(r.stderr)")
        #expect(r.stdout.isEmpty)
    }

    // MARK: Records files

    @Test(arguments: ["sel._domainkey.example.com\n",
                      "# comment\nsr2048a._domainkey.example.com\tv=DKIM1; p=\nno-separator\n"])
    func recordsFileWithAMalformedLineExitsTwo(text: String) throws {
        try CLI.withTemporaryDirectory { dir in
            let records = dir + "/records.txt"
            try CLI.write(text, to: records)
            let r = try CLI.run(["verify", "--records", records, CLI.corpus("messages/canon-basic-rr.eml")])
            #expect(r.status == 2, "\(r.summary)")
            #expect(r.stderr.contains(records), "\(r.stderr)")
            #expect(r.stderr.contains("line"), "\(r.stderr)")
            #expect(r.stdout.isEmpty)
        }
    }

    @Test func missingRecordsFileExitsTwo() throws {
        try CLI.withTemporaryDirectory { dir in
            let records = dir + "/none.txt"
            let r = try CLI.run(["verify", "--records", records, CLI.corpus("messages/canon-basic-rr.eml")])
            #expect(r.status == 2, "\(r.summary)")
            #expect(r.stderr.contains(records), "\(r.stderr)")
            #expect(r.stdout.isEmpty)
        }
    }

    @Test func recordsFileWithABadKeyGivesPermErrorNotACrash() throws {
        try CLI.withTemporaryDirectory { dir in
            let records = dir + "/records.txt"
            try CLI.write("sr2048a._domainkey.example.com\tv=DKIM1; k=rsa; p=AAAAnot-a-key\n", to: records)
            let r = try CLI.run(["verify", "--json", "--records", records, CLI.corpus("messages/canon-basic-rr.eml")])
            expectCleanFailure(r, allowed: [1])
            #expect(try Self.firstSignature(r)?["result"] as? String == "permerror")
        }
    }
}
