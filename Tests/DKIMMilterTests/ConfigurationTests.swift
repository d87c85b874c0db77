import DKIM
import DKIMOpenSSL
import DKIMTestSupport
import Foundation
import Testing
@testable import DKIMMilter
@testable import DKIMMilterCore

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
        do {
            _ = try parse(text); return ""
        } catch let e as ConfigurationError { return e.message } catch { return "\(error)" }
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
        // AutoRestart, AutoRestartRate, Background, LogWhy, SoftwareHeader, LogResults, SyslogFacility.
        #expect(warnings.count == 7, "\(warnings)")
    }

    @Test func unknownOptionNamesFileLineAndOption() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let message = error("Mode sv\n\nFrobnicate yes\n")
        #expect(message.hasSuffix(":3: Frobnicate: unknown option. The options dkim-milter reads are listed by "
                                  + "dkim-milter --list-options and in contrib/MIGRATING.md"), "\(message)")
    }

    @Test(arguments: [
        ("Mode x", "is not s, v or sv"), ("Socket 8891", "is not a socket"), ("Socket inet:99999@127.0.0.1", "port"),
        ("Canonicalization nowsp", "is not simple or relaxed"),
        ("SignatureAlgorithm rsa-sha1", "forbidden by RFC 8301"),
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
        try "# our networks\n192.0.2.0/24\n\n2001:db8::/32  # v6\n!192.0.2.7\n"
            .write(toFile: dir + "/hosts", atomically: true, encoding: .utf8)
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
        let list = try NetworkList(parsing: ["127.0.0.1", "::1", "10.0.0.0/8", "!10.9.9.9", "fd00::/8",
                                             "*.lan.example"])
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
        let store = try KeyStore.load(c, loader: OpenSSLCryptoProvider(), warnings: &warnings)
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
        #expect(throws: ConfigurationError.self) {
            try KeyStore.load(c, loader: OpenSSLCryptoProvider(), warnings: &warnings)
        }
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
            _ = try KeyStore.load(c, loader: OpenSSLCryptoProvider(), warnings: &warnings)
            Issue.record("an unsafe key was loaded")
        } catch {
            #expect(error.message.contains("chmod 600 \(rsa)"))
        }
        c.requireSafeKeys = false
        #expect(try KeyStore.load(c, loader: OpenSSLCryptoProvider(), warnings: &warnings)
                    .keys(forAuthor: "a@example.com").count == 1)
    }

    // MARK: RequireSafeKeys beyond the key's mode bits (issue 18, finding 10)

    /// A key store folder below the temporary folder, with one key file in it (root's, 0600).
    func keyInFolder(_ dir: String, folderMode: mode_t = 0o700) throws -> (folder: String, key: String) {
        let folder = dir + "/keys"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        chmod(folder, folderMode)
        return (folder, try installKey(folder, "rsa2048a.pem"))
    }

    func keyFileConfiguration(_ key: String) -> MilterConfiguration {
        var c = MilterConfiguration()
        c.domains = ["example.com"]; c.selector = "sr2048a"; c.keyFile = key
        return c
    }

    func loadError(_ c: MilterConfiguration) -> String? {
        var warnings: [String] = []
        do {
            _ = try KeyStore.load(c, loader: OpenSSLCryptoProvider(), warnings: &warnings)
            return nil
        } catch {
            return error.message
        }
    }

    /// Whoever owns the key file can rewrite it: a key owned by another user than root or the
    /// milter's user is refused with the chown to run; as that user's UserID it is accepted.
    @Test func keyOwnedByAnotherUserIsRefusedWithTheChown() throws {
        try #require(geteuid() == 0, "needs root to give a file to nobody")
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let (_, key) = try keyInFolder(dir)
        try #require(chown(key, 65534, 65534) == 0)
        var c = keyFileConfiguration(key)
        let message = try #require(loadError(c), "a key owned by nobody was loaded")
        #expect(message.contains(key) && message.contains("nobody") && message.contains("chown root \(key)"),
                "\(message)")
        c.userID = "nobody"
        #expect(loadError(c) == nil, "the milter's own user (UserID) may own its key")
        c.userID = nil
        c.requireSafeKeys = false
        #expect(loadError(c) == nil, "RequireSafeKeys false is the explicit opt-out")
    }

    /// A folder above the key that others can write lets them rename the key away and put theirs
    /// in its place: refused, naming the folder and the chmod; a sticky folder owned by root
    /// (like /tmp) is accepted, as others cannot rename or remove entries they do not own there.
    @Test(arguments: [0o777, 0o770, 0o703] as [mode_t])
    func keyBelowAFolderOthersCanWriteIsRefusedWithTheChmod(folderMode: mode_t) throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let (folder, key) = try keyInFolder(dir, folderMode: folderMode)
        var c = keyFileConfiguration(key)
        let message = try #require(loadError(c), "loaded below a folder of mode \(String(folderMode, radix: 8))")
        #expect(message.contains(key) && message.contains("chmod go-w \(folder)"), "\(message)")
        chmod(folder, folderMode | S_ISVTX)
        #expect(loadError(c) == nil, "a sticky folder owned by root is safe")
        chmod(folder, folderMode)
        c.requireSafeKeys = false
        #expect(loadError(c) == nil)
    }

    /// A folder above the key owned by another user: that user can change its mode at will.
    @Test func keyBelowAFolderOwnedByAnotherUserIsRefusedWithTheChown() throws {
        try #require(geteuid() == 0, "needs root to give a folder to nobody")
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let (folder, key) = try keyInFolder(dir, folderMode: 0o755)
        try #require(chown(folder, 65534, 65534) == 0)
        let message = try #require(loadError(keyFileConfiguration(key)), "a key in nobody's folder was loaded")
        #expect(message.contains(folder) && message.contains("chown root \(folder)"), "\(message)")
    }

    /// The key file is opened with O_NOFOLLOW: a link is refused (whoever can change it chooses
    /// the key), naming the link; RequireSafeKeys false follows it.
    @Test func symlinkedKeyFileIsRefused() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let (folder, key) = try keyInFolder(dir)
        let link = folder + "/link.pem"
        try #require(symlink(key, link) == 0)
        var c = keyFileConfiguration(link)
        let message = try #require(loadError(c), "a linked key was loaded")
        #expect(message.contains(link) && message.contains("symbolic link"), "\(message)")
        c.requireSafeKeys = false
        #expect(loadError(c) == nil)
    }

    /// A domain folder of the key store that is a link is refused, naming it.
    @Test func symlinkedDomainFolderInTheKeysDirectoryIsRefused() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let (folder, _) = try keyInFolder(dir)
        let store = dir + "/store"
        try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
        try #require(symlink(folder, store + "/example.com") == 0)
        var c = MilterConfiguration()
        c.keysDirectory = store
        let message = try #require(loadError(c), "a key below a linked domain folder was loaded")
        #expect(message.contains(store + "/example.com") && message.contains("symbolic link"), "\(message)")
        c.requireSafeKeys = false
        #expect(loadError(c) == nil)
    }

    /// d= and s= must be names (RFC 6376 §3.5 domain-name, §3.1 selector): a KeyTable line with
    /// anything else is refused at load, naming the table and the line, not signed with later.
    @Test(arguments: [("x;y=z.example", "sel", "x;y=z.example"), ("example.com", "s;h=x", "s;h=x"),
                      ("-bad.example", "sel", "-bad.example"), ("localhost", "sel", "localhost"),
                      ("example.com", "a..b", "a..b")])
    func keyTableLineWithAnInvalidDomainOrSelectorIsRefused(domain: String, selector: String, bad: String) throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let key = try installKey(dir, "rsa2048a.pem")
        var c = MilterConfiguration()
        c.keyTable = try write(dir, "KeyTable", "# keys\nk \(domain):\(selector):\(key)\n")
        let message = try #require(loadError(c), "\(domain):\(selector) was accepted")
        #expect(message.contains("\(dir)/KeyTable:2") && message.contains("\"\(bad)\""), "\(message)")
        #expect(message.contains("RFC 6376"), "\(message)")
        c.requireSafeKeys = false
        #expect(loadError(c) != nil, "names are checked whatever RequireSafeKeys says")
    }

    /// The KeyTable's `%` (the author's domain) is still accepted.
    @Test func keyTablePercentDomainIsAccepted() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let key = try installKey(dir, "rsa2048a.pem")
        var c = MilterConfiguration()
        c.keyTable = try write(dir, "KeyTable", "k %:sr2048a:\(key)\n")
        #expect(loadError(c) == nil)
    }

    /// In a keys directory the folder names are d= and the file names s=: invalid ones are
    /// refused naming the path.
    @Test(arguments: [("bad name.example", "sel"), ("x;y=z.example", "sel"), ("example.com", "s;h=x")])
    func keysDirectoryWithAnInvalidDomainOrSelectorNameIsRefused(domain: String, selector: String) throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let store = try TestKeyStore.make(in: dir, keys: [("rsa2048a.pem", domain, selector)])
        var c = MilterConfiguration()
        c.keysDirectory = store
        let message = try #require(loadError(c), "\(domain)/\(selector).pem was accepted")
        let bad = selector == "sel" ? domain : selector
        #expect(message.contains(store + "/" + domain) && message.contains("\"\(bad)\""), "\(message)")
    }

    /// Domain and Selector lines (with KeyFile) are checked where they are written.
    @Test(arguments: [("Domain", "x;y=z.example"), ("Selector", "s;h=x"), ("Domain", "localhost")])
    func invalidDomainOrSelectorLineIsAnErrorNamingTheLine(option: String, value: String) throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let path = try write(dir, "c.conf", "Mode s\n\(option) \(value)\n")
        var warnings: [String] = []
        do {
            _ = try MilterConfiguration(file: path, warnings: &warnings)
            Issue.record("\(option) \(value) was accepted")
        } catch {
            #expect(error.message.hasPrefix("\(path):2: \(option): \"\(value)\""), "\(error.message)")
        }
    }

    /// A Domain list file with a name that is not one is refused, naming the list file.
    @Test func invalidNameInADomainListFileIsAnError() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let list = try write(dir, "domains", "example.com\nbad name.example\n")
        let path = try write(dir, "c.conf", "Domain file:\(list)\n")
        var warnings: [String] = []
        do {
            _ = try MilterConfiguration(file: path, warnings: &warnings)
            Issue.record("a list with \"bad name.example\" was accepted")
        } catch {
            #expect(error.message.contains("\(path):1: Domain") && error.message.contains("\"bad name.example\""),
                    "\(error.message)")
        }
    }

    @Test func keyFileNeedsSelectorAndDomain() {
        var c = MilterConfiguration()
        c.keyFile = "/nonexistent.pem"
        var warnings: [String] = []
        #expect(throws: ConfigurationError("KeyFile /nonexistent.pem needs a Selector line "
                                           + "(the s= of its DNS record)")) {
            try KeyStore.load(c, loader: OpenSSLCryptoProvider(), warnings: &warnings)
        }
    }

    @Test func keysDirectoryGivesRSAFirstThenEd25519AndSubDomainsFindParents() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let store = try TestKeyStore.make(in: dir, keys: [("ed25519a.pem", "example.com", "a-ed"),
                                                          ("rsa2048a.pem", "example.com", "z-rsa")])
        var c = MilterConfiguration()
        c.keysDirectory = store
        c.subDomains = true
        var warnings: [String] = []
        let keys = try KeyStore.load(c, loader: OpenSSLCryptoProvider(), warnings: &warnings)
        #expect(keys.keys(forAuthor: "a@example.com").map(\.selector) == ["z-rsa", "a-ed"])
        #expect(keys.keys(forAuthor: "a@news.example.com").map(\.domain) == ["example.com", "example.com"])
        c.signatureAlgorithm = .ed25519SHA256
        #expect(try KeyStore.load(c, loader: OpenSSLCryptoProvider(), warnings: &warnings)
                    .keys(forAuthor: "a@example.com").map(\.selector) == ["a-ed"])
    }
}
