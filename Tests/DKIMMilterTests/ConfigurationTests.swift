import DKIM
import DKIMTestSupport
import Foundation
import Testing
@testable import DKIMMilter

@Suite struct ConfigurationFileTests {
    func parse(_ text: String) throws -> (MilterConfiguration, [String], String) {
        let dir = try Fixtures.makeTemporaryDirectory()
        let path = dir + "/test.conf"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        var warnings: [String] = []
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let c = try MilterConfiguration(file: path, warnings: &warnings)
        return (c, warnings, path)
    }

    func error(_ text: String) -> String {
        do { _ = try parse(text); return "" } catch let e as ConfigurationError { return e.message } catch { return "\(error)" }
    }

    /// Debian 12's /etc/opendkim.conf, as installed.
    static let debianDefault = """
        # This is a basic configuration for signing and verifying.
        Syslog\t\t\tyes
        SyslogSuccess\t\tyes
        #LogWhy\t\t\tno
        Canonicalization\trelaxed/simple
        #Mode\t\t\tsv
        OversignHeaders\t\tFrom
        UserID\t\t\topendkim
        UMask\t\t\t007
        Socket\t\t\tlocal:/run/opendkim/opendkim.sock
        PidFile\t\t\t/run/opendkim/opendkim.pid
        TrustAnchorFile\t\t/usr/share/dns/root.key
        """

    @Test func acceptsDebiansDefaultOpenDKIMConfiguration() throws {
        let (c, warnings, _) = try parse(Self.debianDefault)
        #expect(c.syslog && c.syslogSuccess)
        #expect(c.canonicalization == CanonicalizationPair(header: .relaxed, body: .simple))
        #expect(c.oversignHeaders == ["from"])
        #expect(c.userID == "opendkim")
        #expect(c.umask == 0o007)
        #expect(c.socket == "local:/run/opendkim/opendkim.sock")
        #expect(c.pidFile == "/run/opendkim/opendkim.pid")
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("TrustAnchorFile: ignored") == true)
    }

    @Test func acceptsTheOptionsOfCommonSetupGuides() throws {
        let (c, warnings, _) = try parse("""
            AutoRestart             Yes
            AutoRestartRate         10/1h
            Background              yes
            DNSTimeout              5
            SignatureAlgorithm      rsa-sha256
            Mode                    sv
            SubDomains              no
            LogWhy                  yes
            Nameservers             127.0.0.1
            ExternalIgnoreList      refile:/dev/null
            InternalHosts           127.0.0.1, ::1, 10.0.0.0/8, mail.example.com
            MinimumKeyBits          1024
            RequireSafeKeys         false
            SoftwareHeader          yes
            LogResults              yes
            SyslogFacility          mail
            AlwaysAddARHeader       no
            MultipleSignatures      yes
            MaximumSignaturesToVerify 3
            On-Default              reject
            On-DNSError             tempfail
            """)
        #expect(c.signs && c.verifies && !c.subDomains)
        #expect(c.signatureAlgorithm == .rsaSHA256)
        #expect(c.nameservers == ["127.0.0.1"])
        #expect(c.internalHosts.contains(address: "10.2.3.4"))
        #expect(c.internalHosts.contains(address: nil, hostname: "MAIL.example.com"))
        #expect(!c.requireSafeKeys && !c.alwaysAddARHeader && c.multipleSignatures)
        #expect(c.maximumSignaturesToVerify == 3)
        #expect(c.onBadSignature == .reject && c.onNoSignature == .reject && c.onDNSError == .tempfail)
        #expect(warnings.count == 6, "\(warnings)")
    }

    @Test func unknownOptionNamesFileLineAndOption() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let message = error("Mode sv\n\nFrobnicate yes\n")
        #expect(message.hasSuffix(":3: Frobnicate: unknown option. Options of opendkim.conf that dkim-milter reads are listed in contrib/MIGRATING.md"))
    }

    @Test(arguments: [
        ("Mode x", "is not s, v or sv"), ("Socket 8891", "is not a socket"), ("Socket inet:99999@127.0.0.1", "port"),
        ("Canonicalization nowsp", "is not simple or relaxed"), ("SignatureAlgorithm rsa-sha1", "forbidden by RFC 8301"),
        ("MinimumKeyBits 512", "1024"), ("On-BadSignature bounce", "accept, discard"), ("UMask 999", "octal"),
        ("Syslog maybe", "yes or no"), ("InternalHosts 10.0.0.0/40", "prefix length"),
    ])
    func badValuesAreErrorsThatSayWhy(_ line: String, _ expected: String) {
        let message = error(line + "\n")
        #expect(message.contains(":1: \(line.split(separator: " ")[0]):"), "\(message)")
        #expect(message.contains(expected), "\(message)")
    }

    @Test func modeVerifyOnlyDoesNotSign() throws {
        let (c, _, _) = try parse("Mode v\n")
        #expect(!c.signs && c.verifies)
    }

    @Test func listsComeInlineOrFromAFile() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        try "# our networks\n192.0.2.0/24\n\n2001:db8::/32  # v6\n!192.0.2.7\n".write(toFile: dir + "/hosts", atomically: true, encoding: .utf8)
        let (c, _, _) = try parse("InternalHosts refile:\(dir)/hosts\nDomain example.com, example.org\n")
        #expect(c.internalHosts.contains(address: "192.0.2.10"))
        #expect(!c.internalHosts.contains(address: "192.0.2.7"))
        #expect(c.internalHosts.contains(address: "2001:db8::1"))
        #expect(!c.internalHosts.contains(address: "127.0.0.1"))
        #expect(c.domains == ["example.com", "example.org"])
    }

    @Test func postfixLinesFollowTheSocket() {
        #expect(MilterSetup.postfixLines(for: "inet:8891@127.0.0.1").first == "smtpd_milters = inet:127.0.0.1:8891")
        #expect(MilterSetup.postfixLines(for: "local:/run/m.sock").first == "smtpd_milters = unix:/run/m.sock")
    }
}

@Suite struct NetworkListTests {
    @Test func matchesAddressesNetworksAndExclusions() throws {
        let list = try NetworkList(parsing: ["127.0.0.1", "::1", "10.0.0.0/8", "!10.9.9.9", "fd00::/8", "*.lan.example"])
        #expect(list.contains(address: "127.0.0.1"))
        #expect(list.contains(address: "::ffff:127.0.0.1"))
        #expect(list.contains(address: "10.200.1.1"))
        #expect(!list.contains(address: "10.9.9.9"))
        #expect(!list.contains(address: "11.0.0.1"))
        #expect(list.contains(address: "fd12::5"))
        #expect(!list.contains(address: "fe80::1"))
        #expect(list.contains(address: "192.0.2.1", hostname: "pc.lan.example"))
        #expect(!list.contains(address: nil))
    }

    @Test func refusesWhatIsNotAHostOrNetwork() {
        #expect(throws: ConfigurationError.self) { try NetworkList(parsing: ["10.0.0.0/33"]) }
        #expect(throws: ConfigurationError.self) { try NetworkList(parsing: ["not a host!"]) }
    }
}

@Suite struct KeyStoreTests {
    func write(_ dir: String, _ name: String, _ text: String) throws -> String {
        let path = dir + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func installKey(_ dir: String, _ corpusKey: String, mode: mode_t = 0o600) throws -> String {
        let path = dir + "/" + corpusKey
        try Data(try Fixtures.bytes("corpus/keys/" + corpusKey)).write(to: URL(fileURLWithPath: path))
        chmod(path, mode)
        return path
    }

    @Test func signingTablePatternsPickKeysInFileOrder() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let rsa = try installKey(dir, "rsa2048a.pem")
        let ed = try installKey(dir, "ed25519a.pem")
        var c = MilterConfiguration()
        c.keyTable = try write(dir, "KeyTable", "rsa example.com:sr2048a:\(rsa)\ned %:seda:\(ed)\n")
        c.signingTable = try write(dir, "SigningTable", "# comment\n*@example.com rsa\n*@*.example.org ed\n")
        c.signingTableIsPattern = true
        var warnings: [String] = []
        let store = try KeyStore.load(c, warnings: &warnings)
        #expect(store.keys(forAuthor: "alice@example.com").map(\.selector) == ["sr2048a"])
        let sub = store.keys(forAuthor: "bob@mail.example.org")
        #expect(sub.map(\.domain) == ["mail.example.org"])  // % is the author's domain
        #expect(store.keys(forAuthor: "eve@example.net").isEmpty)
    }

    @Test func plainSigningTableLooksUpAddressThenDomainThenParentsWithSubDomains() throws {
        let table = try SigningTable(parsing: "alice@example.com a\nexample.com d\n", isPattern: false, source: "t")
        #expect(table.keyNames(for: "alice@example.com", subDomains: false, all: false) == ["a"])
        #expect(table.keyNames(for: "bob@example.com", subDomains: false, all: false) == ["d"])
        #expect(table.keyNames(for: "bob@mail.example.com", subDomains: false, all: false) == [])
        #expect(table.keyNames(for: "bob@mail.example.com", subDomains: true, all: false) == ["d"])
        #expect(table.keyNames(for: "alice@example.com", subDomains: false, all: true) == ["a", "d"])
    }

    @Test func signingTableNamingAMissingKeyIsAnError() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let rsa = try installKey(dir, "rsa2048a.pem")
        var c = MilterConfiguration()
        c.keyTable = try write(dir, "KeyTable", "rsa example.com:sr2048a:\(rsa)\n")
        c.signingTable = try write(dir, "SigningTable", "example.com nosuchkey\n")
        var warnings: [String] = []
        #expect(throws: ConfigurationError.self) { try KeyStore.load(c, warnings: &warnings) }
    }

    /// Private keys readable by others are refused at start, with the fix in the message.
    @Test func unsafeKeyFileIsRefusedWithTheFix() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let rsa = try installKey(dir, "rsa2048a.pem", mode: 0o640)
        var c = MilterConfiguration()
        c.domains = ["example.com"]; c.selector = "sr2048a"; c.keyFile = rsa
        var warnings: [String] = []
        do {
            _ = try KeyStore.load(c, warnings: &warnings)
            Issue.record("an unsafe key was loaded")
        } catch {
            #expect(error.message.contains("chmod 600 \(rsa)"))
        }
        c.requireSafeKeys = false
        #expect(try KeyStore.load(c, warnings: &warnings).keys(forAuthor: "a@example.com").count == 1)
    }

    @Test func keyFileNeedsSelectorAndDomain() {
        var c = MilterConfiguration()
        c.keyFile = "/nonexistent.pem"
        var warnings: [String] = []
        #expect(throws: ConfigurationError("KeyFile /nonexistent.pem needs a Selector line (the s= of its DNS record)")) {
            try KeyStore.load(c, warnings: &warnings)
        }
    }

    @Test func keysDirectoryGivesRSAFirstThenEd25519AndSubDomainsFindParents() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let store = try TestKeyStore.make(in: dir, keys: [("ed25519a.pem", "example.com", "a-ed"), ("rsa2048a.pem", "example.com", "z-rsa")])
        var c = MilterConfiguration()
        c.keysDirectory = store
        c.subDomains = true
        var warnings: [String] = []
        let keys = try KeyStore.load(c, warnings: &warnings)
        #expect(keys.keys(forAuthor: "a@example.com").map(\.selector) == ["z-rsa", "a-ed"])
        #expect(keys.keys(forAuthor: "a@news.example.com").map(\.domain) == ["example.com", "example.com"])
        c.signatureAlgorithm = .ed25519SHA256
        #expect(try KeyStore.load(c, warnings: &warnings).keys(forAuthor: "a@example.com").map(\.selector) == ["a-ed"])
    }
}
