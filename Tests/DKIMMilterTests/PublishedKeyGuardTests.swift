import DKIM
import DKIMKeyCheck
import DKIMOpenSSL
import DKIMTestSupport
import Foundation
import Glibc
import MilterClient
import Testing
@testable import DKIMMilterCore

/// The published-key guard through the real binary: keys whose record DNS does not serve never
/// sign while a published key exists, and a pending key takes over once its record is served.
@Suite(.serialized) struct PublishedKeyGuardTests {
    static let message = Array("From: a@example.com\r\nTo: b@example.org\r\nSubject: s\r\n\r\nbody\r\n".utf8)

    /// A key store with keys `names` for example.com (corpus keys), and their records.
    static func keyStore(_ dir: String, _ keys: [(selector: String, file: String)]) throws -> [String: KeyRecord] {
        try FileManager.default.createDirectory(atPath: dir + "/keys/example.com", withIntermediateDirectories: true)
        var records: [String: KeyRecord] = [:]
        for k in keys {
            let path = dir + "/keys/example.com/\(k.selector).pem"
            try FileManager.default.copyItem(atPath: Fixtures.corpus + "/keys/" + k.file, toPath: path)
            chmod(path, 0o600)
            let key = try PrivateKey(pemOrSeed: String(contentsOfFile: path, encoding: .utf8))
            records[k.selector] = KeyRecord(keyType: key.keyType, publicKeyData: key.publicKeyData)
        }
        return records
    }

    static func start(_ dir: String, dns: FakeDNSServer, extra: String = "") throws -> MilterProcess {
        try """
            Mode            s
            KeysDirectory   \(dir)/keys
            Nameservers     \(dns.address)
            DNSTimeout      1
            KeyCheckInterval 1
            \(extra)
            """.write(toFile: dir + "/c.conf", atomically: true, encoding: .utf8)
        return try MilterProcess(arguments: ["--config", dir + "/c.conf"], socket: "unix:\(dir)/m.sock")
    }

    /// The selectors of the signatures the milter added to one message from an internal host.
    static func signedSelectors(_ milter: MilterProcess) throws -> [String] {
        let c = try MilterConnection(socket: milter.socket)
        try c.negotiate()
        _ = try c.connect(hostname: "localhost", address: "127.0.0.1")
        let r = try c.send(message: message)
        return r.modifications.compactMap { m -> String? in
            guard case .insertHeader(_, "DKIM-Signature", let value) = m,
                  let s = value.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespacesAndNewlines) })
                    .first(where: { $0.hasPrefix("s=") }) else { return nil }
            return String(s.dropFirst(2))
        }
    }

    /// Waits (bounded) until DNS has been asked `count` more times for `name`: that many key checks.
    static func waitForKeyChecks(_ dns: FakeDNSServer, _ name: String, _ count: Int) -> Bool {
        let asked = dns.queries(for: name)
        let deadline = Date().addingTimeInterval(30)
        while dns.queries(for: name) < asked + count && Date() < deadline { usleep(20_000) }
        return dns.queries(for: name) >= asked + count
    }

    /// A key file deleted by hand between two key checks: the check, which reads the keys directory
    /// again, keeps signing with the running key and names the file, as a reload does.
    @Test func aSigningKeyWhoseFileVanishesKeepsSigningAndTheFileIsNamed() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let records = try Self.keyStore(dir, [("good", "rsa2048a.pem")])
        let dns = try FakeDNSServer(["good._domainkey.example.com": .txt([records["good"]!.txtStrings])])
        let milter = try Self.start(dir, dns: dns)
        defer { milter.stop() }
        #expect(try Self.signedSelectors(milter) == ["good"])
        let path = dir + "/keys/example.com/good.pem"
        try FileManager.default.removeItem(atPath: path)
        #expect(milter.logContains("key check: the key file \(path) (example.com s=good) is gone; keeping the running "
                                   + "keys"), "\(milter.log)")
        #expect(Self.waitForKeyChecks(dns, "good._domainkey.example.com", 2), "\(milter.log)")
        #expect(try Self.signedSelectors(milter) == ["good"])
    }

    /// A key that keys.state says is retiring (dkimkey rotate moves its file away later) leaves the
    /// running keys when its file goes, with no complaint; the active key signs on.
    @Test func aRetiredKeyWhoseFileIsMovedAwayLeavesQuietly() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let records = try Self.keyStore(dir, [("new", "rsa2048a.pem"), ("old", "rsa2048b.pem")])
        let now = Int(Date().timeIntervalSince1970)
        let states = KeyStateFile(domain: "example.com", entries: [
            .init(selector: "new", state: .active, since: now - 60),
            .init(selector: "old", state: .retiring, since: now - 60, until: now + 86400),
        ])
        try states.write(directory: dir + "/keys/example.com")
        let dns = try FakeDNSServer(["new._domainkey.example.com": .txt([records["new"]!.txtStrings]),
                                     "old._domainkey.example.com": .txt([records["old"]!.txtStrings])])
        let milter = try Self.start(dir, dns: dns)
        defer { milter.stop() }
        #expect(try Self.signedSelectors(milter) == ["new"])
        try FileManager.default.createDirectory(atPath: dir + "/keys/example.com/retired",
                                                withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: dir + "/keys/example.com/old.pem",
                                         toPath: dir + "/keys/example.com/retired/old.pem")
        // The old key is no longer asked for once a check has read the directory again.
        #expect(Self.waitForKeyChecks(dns, "new._domainkey.example.com", 2), "\(milter.log)")
        let oldAsked = dns.queries(for: "old._domainkey.example.com")
        #expect(Self.waitForKeyChecks(dns, "new._domainkey.example.com", 2), "\(milter.log)")
        #expect(dns.queries(for: "old._domainkey.example.com") == oldAsked, "\(milter.log)")
        #expect(!milter.log.contains("is gone"), "\(milter.log)")
        #expect(try Self.signedSelectors(milter) == ["new"])
    }

    @Test func anUnpublishedKeyDoesNotSignWhileAPublishedOneExists() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let records = try Self.keyStore(dir, [("good", "rsa2048a.pem"), ("notyet", "rsa2048b.pem")])
        let dns = try FakeDNSServer(["good._domainkey.example.com": .txt([records["good"]!.txtStrings])])
        let milter = try Self.start(dir, dns: dns)
        defer { milter.stop() }
        #expect(try Self.signedSelectors(milter) == ["good"])
        // The log names the missing record, with the exact record to publish, once.
        #expect(milter.logContains("key example.com s=notyet (rsa-sha256, active"), "\(milter.log)")
        #expect(milter.log.contains("publish TXT notyet._domainkey.example.com \"\(records["notyet"]!.txtValue)\""))
        // Two more key checks (each asks DNS, past the cache; the first of them has been judged and
        // logged once the second is asked), and still one line.
        let asked = dns.queries(for: "notyet._domainkey.example.com")
        let deadline = Date().addingTimeInterval(30)
        while dns.queries(for: "notyet._domainkey.example.com") < asked + 2 && Date() < deadline { usleep(20_000) }
        #expect(dns.queries(for: "notyet._domainkey.example.com") >= asked + 2, "no more key checks: \(milter.log)")
        #expect(milter.log.components(separatedBy: "s=notyet (rsa-sha256").count == 2, "logged once: \(milter.log)")
        // Published: it signs too.
        dns.set("notyet._domainkey.example.com", .txt([records["notyet"]!.txtStrings]))
        #expect(milter.logContains("key example.com s=notyet (rsa-sha256, active, "
                                   + "\(dir)/keys/example.com/notyet.pem): published"))
        #expect(try Set(Self.signedSelectors(milter)) == ["good", "notyet"])
    }

    @Test func aPendingKeyTakesOverOnceItsRecordIsServedWithoutAReload() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let records = try Self.keyStore(dir, [("s202611", "rsa2048a.pem"), ("s202612", "rsa2048b.pem")])
        var state = KeyStateFile(domain: "example.com")
        state["s202611"] = .init(selector: "s202611", state: .active, since: 1_790_000_000, created: 1_790_000_000)
        state["s202612"] = .init(selector: "s202612", state: .pending, since: 1_795_000_000, created: 1_795_000_000)
        try state.write(directory: dir + "/keys/example.com")
        let dns = try FakeDNSServer(["s202611._domainkey.example.com": .txt([records["s202611"]!.txtStrings])])
        let milter = try Self.start(dir, dns: dns)
        defer { milter.stop() }
        // Until DNS serves the pending key's record, every message is signed by the active key.
        for _ in 0..<3 { #expect(try Self.signedSelectors(milter) == ["s202611"]) }
        dns.set("s202612._domainkey.example.com", .txt([records["s202612"]!.txtStrings]))
        #expect(milter.logContains("example.com: now signing with s=s202612 (was s=s202611)"), "\(milter.log)")
        #expect(try Self.signedSelectors(milter) == ["s202612"])
    }

    @Test func withUnpublishedKeysSkipNothingIsSignedByAKeyNoOneCanVerify() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        _ = try Self.keyStore(dir, [("lonely", "rsa2048a.pem")])
        let dns = try FakeDNSServer([:])
        let skip = try Self.start(dir, dns: dns, extra: "UnpublishedKeys skip")
        #expect(try Self.signedSelectors(skip) == [])
        skip.stop()
        let sign = try Self.start(dir, dns: dns)
        defer { sign.stop() }
        #expect(try Self.signedSelectors(sign) == ["lonely"], "UnpublishedKeys sign is the default")
    }

    @Test func checkConfigShowsEveryKeysState() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let records = try Self.keyStore(dir, [("good", "rsa2048a.pem"), ("other", "rsa2048b.pem")])
        let dns = try FakeDNSServer(["good._domainkey.example.com": .txt([records["good"]!.txtStrings]),
                                     "other._domainkey.example.com": .txt([records["good"]!.txtStrings])])
        try "Mode s\nKeysDirectory \(dir)/keys\nNameservers \(dns.address)\nDNSTimeout 1\n"
            .write(toFile: dir + "/c.conf", atomically: true, encoding: .utf8)
        let r = try ProcessRunner.run(MilterProcess.executable, ["--check-config", dir + "/c.conf"], timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdoutText.contains("example.com s=good rsa-sha256 (2048 bits) from \(dir)/keys/example.com/good.pem"
                                      + ": active, published"), "\(r.stdoutText)")
        #expect(r.stdoutText.contains("s=other rsa-sha256 (2048 bits) from \(dir)/keys/example.com/other.pem: "
                                      + "active, mismatched, not signing"), "\(r.stdoutText)")
    }
}

/// Which keys the store chooses, from their lifecycles and what the guard learned.
@Suite struct KeyChoiceTests {
    func key(_ selector: String, _ lifecycle: KeyLifecycle, ed25519: Bool = false,
             created: Int = 0) throws -> SigningKey {
        var k = try MilterFixtures.key(ed25519 ? "ed25519a.pem" : "rsa2048a.pem", selector: selector)
        k.lifecycle = lifecycle
        k.created = created
        return k
    }

    func choose(_ keys: [SigningKey], _ publication: [String: KeyPublication], skip: Bool = false) -> [String] {
        var store = KeyStore.byDomain(keys).with(publication: publication)
        store.signsWithUnpublishedKeys = !skip
        return store.keys(forAuthor: "a@example.com").map(\.selector)
    }

    @Test func aPendingKeySignsOnlyOnceProvenPublished() throws {
        let keys = [try key("old", .active), try key("new", .pending, created: 5)]
        #expect(choose(keys, [:]) == ["old"])
        #expect(choose(keys, ["new._domainkey.example.com": .unknown]) == ["old"])
        #expect(choose(keys, ["new._domainkey.example.com": .missing]) == ["old"])
        #expect(choose(keys, ["new._domainkey.example.com": .published]) == ["new"])
    }

    @Test func dnsDownNeverDemotesAnActiveKey() throws {
        #expect(choose([try key("a", .active)], ["a._domainkey.example.com": .unknown], skip: true) == ["a"])
    }

    @Test func retiringAndRevokedKeysNeverSign() throws {
        let keys = [try key("r", .retiring), try key("v", .revoked)]
        #expect(choose(keys, ["r._domainkey.example.com": .published, "v._domainkey.example.com": .revoked]) == [])
    }

    @Test func eachAlgorithmIsChosenOnItsOwn() throws {
        let keys = [try key("rsa", .active), try key("ed", .active, ed25519: true),
                    try key("rsa2", .active)]
        let publication: [String: KeyPublication] = ["rsa._domainkey.example.com": .published,
                                                     "rsa2._domainkey.example.com": .mismatched,
                                                     "ed._domainkey.example.com": .missing]
        #expect(choose(keys, publication) == ["rsa", "ed"])
        #expect(choose(keys, publication, skip: true) == ["rsa"])
    }
}
