import DKIM
import DKIMOpenSSL
import DKIMTestSupport
import Foundation
import Testing
@testable import DKIMDNS

/// The publishing of `dkimkey rotate --publish nsupdate` against a real BIND 9 on loopback
/// (one named for the suite, started as nobody when root, stopped by its pid): every change is
/// read back through the project's DNSClient, and once with dig; each refusal reads as the
/// operator needs it, and no message holds the key's secret.
@Suite(.bindServer) struct BINDPublishingTests {
    static var bind: BINDServer { get throws { try #require(BINDServerTrait.current, "needs the .bindServer trait") } }

    static func client(key: TSIGKey? = nil, server: String? = nil, timeout: Double = 5,
                       clock: @escaping TSIGSigner.Clock = TSIGSigner.systemClock) throws -> DNSUpdateClient {
        let bind = try bind
        return try DNSUpdateClient(server: DNSNameserver(server ?? bind.address),
                                   key: key ?? TSIGKey.load(bindKeyFile: bind.keyFile), hmac: openSSLHMAC,
                                   timeout: timeout, clock: clock)
    }

    static func resolver() throws -> DNSClient {
        try DNSClient(nameserver: try bind.address, timeout: 2, tries: 2)
    }

    /// The TXT records at a name, read through the project's DNS client.
    static func txt(_ name: String) throws -> DNSLookupResult {
        try resolver().lookup(name, type: .txt)
    }

    /// The error's reason, checked not to hold the secret.
    static func reason(_ error: DKIMError?, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let reason = try #require(error, sourceLocation: sourceLocation).reason
        #expect(!reason.contains(try bind.secretBase64), "the secret is in: \(reason)", sourceLocation: sourceLocation)
        return reason
    }

    /// A 2048-bit RSA key record (410 bytes: two strings in DNS) and its revoked form.
    static func keyRecord() throws -> String {
        let key = try PrivateKey(pemOrSeed: Fixtures.text("corpus/keys/rsa2048a.pem"))
        return "v=DKIM1; k=rsa; p=" + Base64.encode(key.publicKeyData)
    }

    @Test func publishesReplacesWithTheRevokedFormAndDeletesAKeyRecord() throws {
        let client = try Self.client()
        let name = "rotate1._domainkey.example.test"
        #expect(try client.zone(of: name) == DNSName("example.test"))
        #expect(try Self.txt(name) == .nameNotFound)

        let record = try Self.keyRecord()
        try #require(record.utf8.count > 255)
        try client.replaceTXT(name: name, value: record, ttl: 300)
        #expect(try Self.txt(name) == .answer(DNSAnswer(records: [.txt(record)], ttl: 300)))
        // dig, over TCP: the same record, as the strings it was cut into.
        let dig = try ProcessRunner.run("/usr/bin/dig", ["@127.0.0.1", "-p", String(try Self.bind.port), "+tcp",
                                                         "+short", name, "TXT"], timeout: 20)
        // Its output is the quoted strings with a space between: every second piece between quotes.
        let pieces = dig.stdoutText.split(separator: "\"", omittingEmptySubsequences: false)
        let strings = pieces.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        #expect(dig.status == 0 && strings.map(\.utf8.count) == [255, record.utf8.count - 255], "\(dig.stdoutText)")
        #expect(strings.joined() == record)

        // Replaced, not added to: one record, the revoked form (RFC 6376 §3.6.1: an empty p=).
        try client.replaceTXT(name: name, value: "v=DKIM1; p=", ttl: 60)
        #expect(try Self.txt(name) == .answer(DNSAnswer(records: [.txt("v=DKIM1; p=")], ttl: 60)))

        try client.deleteTXT(name: name)
        #expect(try Self.txt(name) == .nameNotFound)
        // Deleting what is gone is no error (RFC 2136 §3.4.2.3), so a retried rotation step passes.
        try client.deleteTXT(name: name, zone: "example.test")
    }

    /// A name that still has names below it answers NODATA once its TXT records are deleted (an
    /// empty non-terminal, RFC 8020 §2); a whole name can be cleared and filled in one update.
    @Test func deletesTheTXTRecordsLeavingNODATAWhereANameBelowRemains() throws {
        let client = try Self.client()
        let name = DNSName("rotate2._domainkey.example.test")!
        let below = "x.\(name)"
        try client.replaceTXT(name: below, value: "v=DKIM1; p=", ttl: 300)
        try client.send(DNSUpdate(zone: DNSName("example.test")!, changes: [
            .deleteName(name), .addTXT(name, value: "v=DKIM1; p=", ttl: 120),
        ]))
        #expect(try Self.txt("\(name)") == .answer(DNSAnswer(records: [.txt("v=DKIM1; p=")], ttl: 120)))
        try client.deleteTXT(name: "\(name)")
        #expect(try Self.txt("\(name)") == .noData)
        try client.deleteTXT(name: below)
        #expect(try Self.txt(below) == .nameNotFound)
    }

    /// RFC 2136 §2.4.4 and §2.4.5: an update whose prerequisite fails changes nothing, and says which.
    @Test func changesNothingWhenAPrerequisiteFails() throws {
        let client = try Self.client()
        let zone = DNSName("example.test")!
        let taken = DNSName("ns.example.test")!
        let free = DNSName("prereq._domainkey.example.test")!
        let add = DNSUpdate.Change.addTXT(free, value: "v=DKIM1; p=", ttl: 300)
        let inUse = expectDKIMError(.dnsUpdateRejected) {
            try client.send(DNSUpdate(zone: zone, prerequisites: [.nameIsNotInUse(taken)], changes: [add]))
        }
        #expect(try Self.reason(inUse).contains(": YXDOMAIN — the update requires ns.example.test to be unused"))
        let missing = expectDKIMError(.dnsUpdateRejected) {
            try client.send(DNSUpdate(zone: zone, prerequisites: [.nameIsInUse(free)], changes: [add]))
        }
        #expect(try Self.reason(missing).contains(": NXDOMAIN — the update requires \(free) to be in use"))
        #expect(try Self.txt("\(free)") == .nameNotFound)
        try client.send(DNSUpdate(zone: zone, prerequisites: [.nameIsNotInUse(free)], changes: [add]))
        #expect(try Self.txt("\(free)") == .answer(DNSAnswer(records: [.txt("v=DKIM1; p=")], ttl: 300)))
        try client.deleteTXT(name: "\(free)")
    }

    /// The server under test is a real named of its own: as nobody when the tests run as root,
    /// in its temporary folder, on loopback.
    @Test func theServerIsANamedOfItsOwnRunAsNobodyWhenRoot() throws {
        let bind = try Self.bind
        let status = try String(contentsOfFile: "/proc/\(bind.pid)/status", encoding: .utf8)
        #expect(status.contains("Name:\tnamed"), "\(status)")
        let uid = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }.map(String.init) ?? ""
        let expected = geteuid() == 0 ? 65534 : geteuid()
        #expect(uid.split(separator: "\t").dropFirst().allSatisfy { $0 == "\(expected)" }, "\(uid)")
        let cwd = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(bind.pid)/cwd")
        #expect(cwd == bind.directory)
        #expect(bind.log.contains("zone example.test/IN: loaded serial 1"), "\(bind.log)")
    }

    @Test func refusesAWrongSecretWithBADSIGInWords() throws {
        let bind = try Self.bind
        let wrong = try TSIGKey(name: bind.keyName, secret: [UInt8](repeating: 7, count: 32))
        let name = "badsig._domainkey.example.test"
        let error = expectDKIMError(.dnsUpdateUnauthenticated) {
            try Self.client(key: wrong).replaceTXT(name: name, value: "v=DKIM1; p=", ttl: 300)
        }
        let reason = try Self.reason(error)
        #expect(reason.contains("the DNS server \(bind.address) refused the TSIG key 'dkim-rotate' for the update of "
                                + "\(name): BADSIG"), "\(reason)")
        #expect(reason.contains("is the secret the one in named.conf?"), "\(reason)")
        #expect(try Self.txt(name) == .nameNotFound)
    }

    @Test func refusesAnUnknownKeyWithBADKEYInWords() throws {
        let bind = try Self.bind
        let stranger = try TSIGKey(name: "someone-else", secret: [UInt8](repeating: 9, count: 32))
        let name = "badkey._domainkey.example.test"
        let error = expectDKIMError(.dnsUpdateUnauthenticated) {
            try Self.client(key: stranger).replaceTXT(name: name, value: "v=DKIM1; p=", ttl: 300)
        }
        let reason = try Self.reason(error)
        #expect(reason.contains("\(bind.address) refused the TSIG key 'someone-else'") && reason.contains(": BADKEY")
                && reason.contains("is the key name and algorithm the ones of the key statement in named.conf?"),
                "\(reason)")
        #expect(try Self.txt(name) == .nameNotFound)
    }

    /// Signed 1000 s ahead, the update is refused for its time; the error tells the skew.
    @Test func refusesAnUpdateSignedAtAWrongTimeWithBADTIME() throws {
        let skewed = try Self.client(clock: { TSIGSigner.systemClock() + 1000 })
        let name = "badtime._domainkey.example.test"
        let error = expectDKIMError(.dnsUpdateUnauthenticated) {
            try skewed.replaceTXT(name: name, value: "v=DKIM1; p=", ttl: 300, zone: "example.test")
        }
        let reason = try Self.reason(error)
        #expect(reason.contains(": BADTIME") && reason.contains("behind this host's") && reason.contains("NTP"),
                "\(reason)")
        #expect(try Self.txt(name) == .nameNotFound)
    }

    @Test func reportsNOTAUTHForAZoneTheServerDoesNotServe() throws {
        let bind = try Self.bind
        let name = "s._domainkey.example.org"
        let error = expectDKIMError(.dnsUpdateRejected) {
            try Self.client().replaceTXT(name: name, value: "v=DKIM1; p=", ttl: 300, zone: "example.org")
        }
        let reason = try Self.reason(error)
        #expect(reason.contains("the DNS server \(bind.address) refused the update of \(name) in zone example.org: "
                                + "NOTAUTH") && reason.contains("give --server the primary server of example.org"),
                "\(reason)")
        // Without a zone given, none is found: the server answers REFUSED for every name above.
        let search = expectDKIMError(.dnsZoneNotFound) {
            try Self.client().deleteTXT(name: name)
        }
        let searched = try Self.reason(search)
        #expect(searched.contains("\(bind.address) is authoritative for no zone holding \(name)")
                && searched.contains("example.org: REFUSED") && searched.contains("org: REFUSED"), "\(searched)")
    }

    @Test func reportsREFUSEDForAZoneThatAllowsNoUpdate() throws {
        let bind = try Self.bind
        let name = "s._domainkey.locked.test"
        let error = expectDKIMError(.dnsUpdateRejected) {
            try Self.client().replaceTXT(name: name, value: "v=DKIM1; p=", ttl: 300)
        }
        let reason = try Self.reason(error)
        #expect(reason.contains("\(bind.address) refused the update of \(name) in zone locked.test: REFUSED")
                && reason.contains("allow-update { key \"dkim-rotate\"; };"), "\(reason)")
    }

    /// A key file others may read is refused before any connection is made to the server.
    @Test func refusesAKeyFileOthersMayReadBeforeSendingAnything() throws {
        let bind = try Self.bind
        let directory = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(directory) }
        let exposed = directory + "/rotate.key"
        try writeFile(String(contentsOfFile: bind.keyFile, encoding: .utf8), to: exposed, mode: 0o644)
        let (listener, port) = try #require(LoopbackSocket.bound(.tcp))
        defer { close(listener) }
        try #require(listen(listener, 4) == 0)
        let error = expectDKIMError(.tsigKey) {
            let client = try DNSUpdateClient(server: "127.0.0.1:\(port)", tsigKeyFile: exposed, hmac: openSSLHMAC)
            try client.replaceTXT(name: "s._domainkey.example.test", value: "v=DKIM1; p=", ttl: 300)
        }
        let reason = try Self.reason(error)
        #expect(reason.contains("chmod 600 \(exposed)") && reason.contains("nothing was sent"), "\(reason)")
        var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        #expect(poll(&entry, 1, 200) == 0, "a connection reached the server")
    }

    /// A server that takes the connection and never answers: the call ends at its timeout.
    @Test func givesUpAtTheTimeoutWhenTheServerDoesNotAnswer() throws {
        let (listener, port) = try #require(LoopbackSocket.bound(.tcp))
        defer { close(listener) }
        try #require(listen(listener, 4) == 0)
        let client = try Self.client(server: "127.0.0.1:\(port)", timeout: 0.5)
        let start = Date()
        let error = expectDKIMError(.dnsUpdateUnavailable) {
            try client.replaceTXT(name: "s._domainkey.example.test", value: "v=DKIM1; p=", ttl: 300)
        }
        let elapsed = Date().timeIntervalSince(start)
        let reason = try Self.reason(error)
        #expect(reason.contains("the DNS server 127.0.0.1:\(port) did not answer the SOA query for "
                                + "s._domainkey.example.test within 0.5 s"), "\(reason)")
        // Not before the timeout; after it, with room for a loaded machine (without one it would wait forever).
        #expect(elapsed >= 0.45 && elapsed < 10, "took \(elapsed) s")
    }

    @Test func namesTheServerWhenNothingListens() throws {
        let (fd, port) = try #require(LoopbackSocket.bound(.tcp))
        close(fd)
        let error = expectDKIMError(.dnsUpdateUnavailable) {
            try Self.client(server: "127.0.0.1:\(port)").deleteTXT(name: "s._domainkey.example.test",
                                                                   zone: "example.test")
        }
        let reason = try Self.reason(error)
        #expect(reason.contains("cannot connect to the DNS server 127.0.0.1:\(port) for the update of "
                                + "s._domainkey.example.test: Connection refused"), "\(reason)")
    }
}

/// One BIND server for the suite: example.test updatable with the key, locked.test not.
struct BINDServerTrait: SuiteTrait, TestScoping {
    @TaskLocal static var current: BINDServer?

    func provideScope(for test: Test, testCase: Test.Case?,
                      performing function: @Sendable () async throws -> Void) async throws {
        let server = try BINDServer(zones: [.init("example.test"), .init("locked.test", updatable: false)])
        defer { server.stop() }
        try await Self.$current.withValue(server) { try await function() }
    }
}

extension Trait where Self == BINDServerTrait {
    static var bindServer: Self { Self() }
}
