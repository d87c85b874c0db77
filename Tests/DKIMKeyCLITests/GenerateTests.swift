import DKIMTestSupport
import Foundation
import Testing

@Suite("dkimkey generate")
struct GenerateTests {
    /// The quoted character-strings of a zone-file TXT line.
    static func quotedStrings(_ zoneLine: String) -> [String] {
        zoneLine.split(separator: "\"", omittingEmptySubsequences: false).enumerated()
            .filter { $0.offset % 2 == 1 }.map { String($0.element) }
    }

    static func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return try #require(attributes[.posixPermissions] as? Int) & 0o777
    }

    /// The DER bytes of `p=` in a one-line record.
    static func publicKeyDER(_ record: String) throws -> [UInt8] {
        let p = try #require(record.components(separatedBy: "; ").first { $0.hasPrefix("p=") }, "no p= in \(record)")
        return Array(try #require(Data(base64Encoded: String(p.dropFirst(2))), "p= is not base64: \(p)"))
    }

    /// Checks the files and the output of a successful `generate`.
    func checkGenerated(_ key: GeneratedKey, _ result: ProcessRunner.Result, keyTag: String) throws {
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty, "\(result.stderr)")

        // SELECTOR.pem: PKCS#8, owner-only.
        let pem = String(decoding: try CLI.read(key.pemPath), as: UTF8.self)
        #expect(pem.hasPrefix("-----BEGIN PRIVATE KEY-----\n"), "\(pem.prefix(40))")
        #expect(pem.contains("-----END PRIVATE KEY-----"))
        #expect(!pem.contains("RSA PRIVATE KEY"), "PKCS#1, not PKCS#8")
        #expect(try Self.mode(key.pemPath) == 0o600)

        // The one-line record on stdout.
        #expect(key.record.hasPrefix("v=DKIM1; k=\(keyTag); p="), "\(key.record)")
        #expect(!key.record.contains("\""))

        // SELECTOR.txt: one zone-file line, strings of at most 255 bytes that join to the record.
        let txt = String(decoding: try CLI.read(key.txtPath), as: UTF8.self)
        #expect(txt.hasSuffix("\n"))
        let lines = txt.split(separator: "\n").map(String.init)
        #expect(lines.count == 1, "\(txt)")
        let zoneLine = try #require(lines.first)
        #expect(zoneLine.hasPrefix("\(key.selector)._domainkey.\(key.domain).\t")
                    || zoneLine.hasPrefix("\(key.selector)._domainkey.\(key.domain). "),
                "\(zoneLine)")
        #expect(zoneLine.contains("TXT"))
        let strings = Self.quotedStrings(zoneLine)
        #expect(!strings.isEmpty)
        for s in strings { #expect(s.utf8.count <= 255, "string of \(s.utf8.count) bytes") }
        #expect(strings.joined() == key.record, "zone strings do not join to the printed record")

        // stdout: where to publish, the zone line, and where the files went.
        let out = result.stdoutText
        #expect(out.contains("\(key.selector)._domainkey.\(key.domain)"), "\(out)")
        #expect(out.contains(zoneLine), "zone line missing from stdout: \(out)")
        #expect(out.contains(key.pemPath) && out.contains(key.txtPath), "\(out)")
        #expect(out.split(separator: "\n").contains { $0 == key.record })
    }

    @Test func generateRSAWritesA2048BitPKCS8KeyAndTheRecord() throws {
        try CLI.withTemporaryDirectory { dir in
            let r = try CLI.run(["generate", "mail2026", "--domain", "Example.COM", "--keys-dir", dir + "/keys"])
            try #require(r.status == 0, "\(r.summary)")
            let record = try #require(r.stdoutText.split(separator: "\n").first { $0.hasPrefix("v=DKIM1;") })
            let base = dir + "/keys/example.com/mail2026"
            let key = GeneratedKey(type: "rsa", selector: "mail2026", domain: "example.com", pemPath: base + ".pem",
                                   txtPath: base + ".txt", record: String(record))
            try checkGenerated(key, r, keyTag: "rsa")
            #expect(r.stdoutText.contains("2048-bit RSA"))
            // A 2048-bit RSA SubjectPublicKeyInfo with e=65537 is 294 bytes.
            #expect(try Self.publicKeyDER(key.record).count == 294)
            // A 2048-bit key's record is longer than one string can hold.
            #expect(Self.quotedStrings(String(decoding: try CLI.read(key.txtPath), as: UTF8.self)).count >= 2)
            #expect(try Self.mode(dir + "/keys/example.com") & 0o077 == 0, "the key folder is readable by others")
        }
    }

    @Test func generateEd25519WritesAPKCS8KeyAndARawPublicKey() throws {
        try CLI.withTemporaryDirectory { dir in
            let (key, r) = try GeneratedKeys.generate(type: "ed25519", selector: "ed1", domain: "example.org", in: dir)
            try checkGenerated(key, r, keyTag: "ed25519")
            // RFC 8463: p= is the raw 32-byte public key.
            #expect(try Self.publicKeyDER(key.record).count == 32)
            #expect(r.stdoutText.contains("Ed25519"))
        }
    }

    @Test func generateHonoursBits() throws {
        try CLI.withTemporaryDirectory { dir in
            let (key, r) = try GeneratedKeys.generate(type: "rsa", selector: "small", domain: "example.com", in: dir,
                                                      extra: ["--bits", "1024"])
            try checkGenerated(key, r, keyTag: "rsa")
            // A 1024-bit RSA SubjectPublicKeyInfo is 162 bytes.
            #expect(try Self.publicKeyDER(key.record).count == 162)
        }
    }

    @Test(arguments: ["512", "1023", "0", "-1"])
    func generateRefusesRSAKeysBelow1024Bits(bits: String) throws {
        try CLI.withTemporaryDirectory { dir in
            let r = try CLI.run(["generate", "weak", "--domain", "example.com", "--bits", bits,
                                 "--keys-dir", dir + "/keys"])
            #expect(r.status == 2, "\(r.summary)")
            #expect(r.stderr.contains("1024"), "\(r.stderr)")
            #expect(r.stdout.isEmpty)
            #expect(!FileManager.default.fileExists(atPath: dir + "/keys/example.com/weak.pem"))
        }
    }

    @Test func generateRefusesRSAKeysAbove8192Bits() throws {
        try CLI.withTemporaryDirectory { dir in
            let r = try CLI.run(["generate", "huge", "--domain", "example.com", "--bits", "16384", "--keys-dir", dir])
            #expect(r.status == 2, "\(r.summary)")
            #expect(r.stderr.contains("8192"), "\(r.stderr)")
        }
    }

    @Test func generateRefusesToOverwriteWithoutForce() throws {
        try CLI.withTemporaryDirectory { dir in
            let (key, _) = try GeneratedKeys.generate(type: "ed25519", selector: "s1", domain: "example.com", in: dir)
            let pemBefore = try CLI.read(key.pemPath)
            let txtBefore = try CLI.read(key.txtPath)
            let r = try CLI.run(["generate", "s1", "--domain", "example.com", "--type", "ed25519",
                                 "--keys-dir", dir + "/keys"])
            #expect(r.status == 2, "\(r.summary)")
            #expect(r.stderr.contains(key.pemPath), "\(r.stderr)")
            #expect(r.stderr.contains("already exists") && r.stderr.contains("--force"), "\(r.stderr)")
            #expect(r.stdout.isEmpty)
            #expect(try CLI.read(key.pemPath) == pemBefore, "the key was changed")
            #expect(try CLI.read(key.txtPath) == txtBefore, "the record was changed")
            #expect(try Self.mode(key.pemPath) == 0o600)
        }
    }

    @Test func generateReplacesAnExistingKeyWithForce() throws {
        try CLI.withTemporaryDirectory { dir in
            let (first, _) = try GeneratedKeys.generate(type: "ed25519", selector: "s1", domain: "example.com", in: dir)
            let pemBefore = try CLI.read(first.pemPath)
            // Loosened permissions must be restored to 0600 on replacement.
            chmod(first.pemPath, 0o644)
            let (second, r) = try GeneratedKeys.generate(type: "rsa", selector: "s1", domain: "example.com", in: dir,
                                                         extra: ["--bits", "1024", "--force"])
            try checkGenerated(second, r, keyTag: "rsa")
            #expect(try CLI.read(second.pemPath) != pemBefore)
            #expect(second.record != first.record)
            #expect(String(decoding: try CLI.read(second.txtPath), as: UTF8.self).contains("k=rsa"))
        }
    }

    // MARK: Planted links and files in the key store (issue 18, finding 7)

    enum PlantedAt: String, CaseIterable, Sendable {
        case keyFile = "pem", recordFile = "txt"
    }

    static func generateArguments(_ dir: String, force: Bool) -> [String] {
        ["generate", "sel", "--domain", "example.com", "--type", "ed25519", "--keys-dir", dir + "/keys"]
            + (force ? ["--force"] : [])
    }

    /// The names in a folder, sorted.
    static func names(_ dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
    }

    /// A symbolic link planted at SELECTOR.pem or SELECTOR.txt, pointing at a file of someone
    /// else, is refused (with or without --force) naming the path; the victim keeps its bytes and
    /// its mode, and no temporary file is left behind.
    @Test(arguments: PlantedAt.allCases, [false, true])
    func generateRefusesASymlinkPlantedAtTheFinalName(at: PlantedAt, force: Bool) throws {
        try CLI.withTemporaryDirectory { dir in
            let domainDir = dir + "/keys/example.com"
            try FileManager.default.createDirectory(atPath: domainDir, withIntermediateDirectories: true)
            let victim = dir + "/victim"
            try CLI.write("the victim's own bytes\n", to: victim)
            chmod(victim, 0o600)
            let link = domainDir + "/sel." + at.rawValue
            try #require(symlink(victim, link) == 0)
            let r = try CLI.run(Self.generateArguments(dir, force: force))
            #expect(r.status == 2, "\(r.summary)")
            #expect(r.stderr.contains(link) && r.stderr.contains("symbolic link"), "\(r.stderr)")
            #expect(r.stdout.isEmpty)
            #expect(String(decoding: try CLI.read(victim), as: UTF8.self) == "the victim's own bytes\n",
                    "the link was followed")
            #expect(try Self.mode(victim) == 0o600, "the victim's mode was changed")
            let left = try Self.names(domainDir)
            #expect(left == ["sel." + at.rawValue], "\(left)")
        }
    }

    /// A dangling link at the key's name must not make the file it points to (with --force the
    /// old code opened it with O_CREAT and wrote the private key there).
    @Test(arguments: PlantedAt.allCases)
    func generateWithForceDoesNotCreateTheTargetOfADanglingLink(at: PlantedAt) throws {
        try CLI.withTemporaryDirectory { dir in
            let domainDir = dir + "/keys/example.com"
            try FileManager.default.createDirectory(atPath: domainDir, withIntermediateDirectories: true)
            let target = dir + "/made-by-dkimkey"
            try #require(symlink(target, domainDir + "/sel." + at.rawValue) == 0)
            let r = try CLI.run(Self.generateArguments(dir, force: true))
            #expect(r.status == 2, "\(r.summary)")
            #expect(r.stderr.contains("symbolic link"), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: target), "the link's target was created")
        }
    }

    /// --force replaces the key by renaming a new file over it: the old file (still reachable
    /// through a second hard link, as by a backup or anyone holding it open) is not truncated or
    /// rewritten in place, and the new files are new inodes with modes 0600 and 0644.
    @Test func generateWithForceReplacesAKeyByRenameNeverInPlace() throws {
        try CLI.withTemporaryDirectory { dir in
            let (first, _) = try GeneratedKeys.generate(type: "ed25519", selector: "sel", domain: "example.com",
                                                        in: dir)
            let pemBefore = try CLI.read(first.pemPath)
            let txtBefore = try CLI.read(first.txtPath)
            try #require(link(first.pemPath, dir + "/old.pem") == 0 && link(first.txtPath, dir + "/old.txt") == 0)
            let r = try CLI.run(Self.generateArguments(dir, force: true))
            #expect(r.status == 0, "\(r.summary)")
            #expect(try CLI.read(dir + "/old.pem") == pemBefore, "the old key file was rewritten in place")
            #expect(try CLI.read(dir + "/old.txt") == txtBefore, "the old record file was rewritten in place")
            #expect(try CLI.read(first.pemPath) != pemBefore)
            #expect(try Self.mode(first.pemPath) == 0o600)
            #expect(try Self.mode(first.txtPath) == 0o644)
            #expect(try Self.names(dir + "/keys/example.com") == ["sel.pem", "sel.txt"])
        }
    }

    /// Without --force an existing SELECTOR.txt is never touched, even when there is no key yet.
    @Test func generateWithoutForceLeavesAnExistingRecordFileAlone() throws {
        try CLI.withTemporaryDirectory { dir in
            let domainDir = dir + "/keys/example.com"
            try FileManager.default.createDirectory(atPath: domainDir, withIntermediateDirectories: true)
            let txt = domainDir + "/sel.txt"
            try CLI.write("my notes\n", to: txt)
            chmod(txt, 0o600)
            let r = try CLI.run(Self.generateArguments(dir, force: false))
            #expect(r.status == 2, "\(r.summary)")
            #expect(r.stderr.contains(txt) && r.stderr.contains("already exists") && r.stderr.contains("--force"),
                    "\(r.stderr)")
            #expect(String(decoding: try CLI.read(txt), as: UTF8.self) == "my notes\n")
            #expect(try Self.mode(txt) == 0o600)
            #expect(try Self.names(domainDir) == ["sel.txt"], "a key was written without its record")
        }
    }

    /// A domain folder that is a symbolic link is refused: the key would land wherever it points.
    @Test func generateRefusesASymlinkedDomainDirectory() throws {
        try CLI.withTemporaryDirectory { dir in
            try FileManager.default.createDirectory(atPath: dir + "/keys", withIntermediateDirectories: true)
            let elsewhere = dir + "/elsewhere"
            try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
            try #require(symlink(elsewhere, dir + "/keys/example.com") == 0)
            let r = try CLI.run(Self.generateArguments(dir, force: true))
            #expect(r.status == 2, "\(r.summary)")
            #expect(r.stderr.contains(dir + "/keys/example.com") && r.stderr.contains("symbolic link"), "\(r.stderr)")
            #expect(try Self.names(elsewhere).isEmpty, "wrote into the link's target")
        }
    }

    /// New key folders are made with mode 0700 from the start, the store and the domain folder both.
    @Test func generateMakesNewKeyDirectoriesOwnerOnly() throws {
        try CLI.withTemporaryDirectory { dir in
            let r = try CLI.run(["generate", "sel", "--domain", "example.com", "--type", "ed25519",
                                 "--keys-dir", dir + "/store/keys"])
            #expect(r.status == 0, "\(r.summary)")
            for folder in ["/store", "/store/keys", "/store/keys/example.com"] {
                #expect(try Self.mode(dir + folder) == 0o700, "\(folder)")
            }
        }
    }

    @Test(arguments: ["bad domain", "localhost", "", ".example.com", "exa..mple.com",
                      "example.com;x=1", "exämple.com", "example.com/../../etc"])
    func generateRejectsAnInvalidDomain(domain: String) throws {
        try CLI.withTemporaryDirectory { dir in
            let r = try CLI.run(["generate", "sel", "--domain", domain, "--type", "ed25519",
                                 "--keys-dir", dir + "/keys"])
            #expect(r.status == 2, "\(domain): \(r.summary)")
            #expect(r.stderr.contains("domain"), "\(r.stderr)")
            #expect(r.stdout.isEmpty)
            #expect(!FileManager.default.fileExists(atPath: dir + "/keys"), "wrote files for an invalid domain")
        }
    }

    @Test(arguments: ["bad selector", "", "../escape", "sel;x", "sel/sub"])
    func generateRejectsAnInvalidSelector(selector: String) throws {
        try CLI.withTemporaryDirectory { dir in
            let r = try CLI.run(["generate", selector, "--domain", "example.com", "--type", "ed25519",
                                 "--keys-dir", dir + "/keys"])
            #expect(r.status == 2, "\(selector): \(r.summary)")
            #expect(r.stderr.contains("selector"), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/keys"), "wrote files for an invalid selector")
        }
    }

    @Test func generateUsesTheKeysDirectoryRelativeToTheWorkingDirectory() throws {
        try CLI.withTemporaryDirectory { dir in
            let r = try CLI.run(["generate", "rel", "--domain", "example.net", "--type", "ed25519"], in: dir)
            #expect(r.status == 0, "\(r.summary)")
            #expect(FileManager.default.fileExists(atPath: dir + "/Keys/example.net/rel.pem"))
            #expect(FileManager.default.fileExists(atPath: dir + "/Keys/example.net/rel.txt"))
        }
    }
}
