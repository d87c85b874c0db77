import DKIM
import DKIMDNS
import DKIMTestSupport
import Foundation
import Testing

/// The resolver against real DNS servers on loopback: the project's fake server (every kind of
/// answer, query counts) and dnsmasq.
@Suite struct SystemTXTResolverTests {
    static let key = "v=DKIM1; k=rsa; p=" + String(repeating: "A", count: 392)

    func resolver(_ server: FakeDNSServer, timeout: Int = 2, tries: Int = 1) throws -> SystemTXTResolver {
        try SystemTXTResolver(nameserver: server.address, timeout: timeout, tries: tries)
    }

    @Test func joinsTheStringsOfOneRecord() throws {
        let strings = stride(from: 0, to: Self.key.count, by: 255).map {
            String(Self.key.dropFirst($0).prefix(255))
        }
        let server = try FakeDNSServer(["one._domainkey.example.com": .txt([[Self.key.count > 255 ? String(Self.key.prefix(255)) : Self.key,
                                                                              String(Self.key.dropFirst(255))]]),
                                        "split._domainkey.example.com": .txt([strings])])
        let r = try resolver(server)
        #expect(r.lookupTXT("one._domainkey.example.com") == .records([Self.key]))
        #expect(r.lookupTXT("split._domainkey.example.com") == .records([Self.key]))
        #expect(strings.count == 2)
    }

    @Test func followsCNAMEs() throws {
        let server = try FakeDNSServer(["sel._domainkey.example.com": .cname("sel._domainkey.provider.example"),
                                        "sel._domainkey.provider.example": .txt([["v=DKIM1; p=AB"]], ttl: 120)])
        let (result, ttl) = try resolver(server).lookupTXTWithTTL("sel._domainkey.example.com")
        #expect(result == .records(["v=DKIM1; p=AB"]))
        #expect(ttl == 120)
    }

    @Test func severalRecordsAtOneNameAreAllReturned() throws {
        let server = try FakeDNSServer(["two._domainkey.example.com": .txt([["v=spf1 -all"], ["v=DKIM1; p=AB"]])])
        #expect(try resolver(server).lookupTXT("two._domainkey.example.com") == .records(["v=spf1 -all", "v=DKIM1; p=AB"]))
    }

    /// RFC 6376 §6.1.2: no record is a permanent "no key"; a failing server is temporary.
    @Test func mapsFailuresToPermanentAndTemporaryResults() throws {
        let server = try FakeDNSServer(["nodata._domainkey.example.com": .noData, "fail._domainkey.example.com": .servfail,
                                        "junk._domainkey.example.com": .garbage])
        let r = try resolver(server)
        #expect(r.lookupTXT("missing._domainkey.example.com") == .nameNotFound)
        #expect(r.lookupTXT("nodata._domainkey.example.com") == .records([]))
        guard case .temporaryFailure = r.lookupTXT("fail._domainkey.example.com") else {
            Issue.record("SERVFAIL must be a temporary failure")
            return
        }
        guard case .temporaryFailure = r.lookupTXT("junk._domainkey.example.com") else {
            Issue.record("a malformed answer must be a temporary failure")
            return
        }
    }

    @Test func silentServerTimesOutWithinTheConfiguredBound() throws {
        let server = try FakeDNSServer(["slow._domainkey.example.com": .silent])
        let start = Date()
        let result = try resolver(server, timeout: 1, tries: 2).lookupTXT("slow._domainkey.example.com")
        let elapsed = Date().timeIntervalSince(start)
        guard case .temporaryFailure = result else {
            Issue.record("a timeout must be a temporary failure, got \(result)")
            return
        }
        #expect(elapsed < 4, "took \(elapsed) s for timeout 1 s × 2 tries")
        #expect(server.queries(for: "slow._domainkey.example.com") >= 1)
    }

    /// Limits on DNS answers: the resolver reads answers up to the 64 KiB a DNS message can
    /// hold; a key record above 16 KiB is refused when parsed, with its size in the reason.
    @Test func anOverlongAnswerIsReadWholeAndItsKeyRecordRefused() throws {
        let strings = (0..<160).map { _ in String(repeating: "A", count: 250) }  // 40,000 bytes in one UDP answer
        let server = try FakeDNSServer(["huge._domainkey.example.com": .txt([["v=DKIM1; p="] + strings])])
        let result = try resolver(server).lookupTXT("huge._domainkey.example.com")
        guard case .records(let records) = result, let record = records.first else {
            Issue.record("expected the record, got \(result)")
            return
        }
        #expect(records.count == 1 && record.utf8.count == 11 + 40_000)
        #expect(throws: DKIMError.self) { try KeyRecord(parsing: record) }
        do {
            _ = try KeyRecord(parsing: record)
        } catch {
            #expect(error.code == .keySyntax)
            #expect(error.reason.contains("40011 bytes long; at most 16384"), "\(error.reason)")
        }
    }

    /// An answer too large for UDP comes back truncated (TC); when the server then offers no
    /// TCP, the lookup is a temporary failure, never a partial record or a wait without end.
    @Test func aTruncatedAnswerWithoutTCPIsATemporaryFailure() throws {
        let server = try FakeDNSServer(["tc._domainkey.example.com": .truncated])
        let start = Date()
        let result = try resolver(server, timeout: 1, tries: 2).lookupTXT("tc._domainkey.example.com")
        guard case .temporaryFailure = result else {
            Issue.record("a truncated answer must be a temporary failure, got \(result)")
            return
        }
        #expect(Date().timeIntervalSince(start) < 4)
        #expect(server.queries(for: "tc._domainkey.example.com") >= 1)
    }

    @Test func refusesNameserversThatAreNotIPv4() {
        #expect(throws: DKIMError.self) { try SystemTXTResolver(nameserver: "ns.example.com") }
        #expect(throws: DKIMError.self) { try SystemTXTResolver(nameserver: "127.0.0.1:99999") }
    }

    /// The same lookups against dnsmasq, a real DNS server, on a port of its own.
    @Test func worksAgainstDnsmasq() throws {
        let port = 25000 + Int(getpid() % 10000)
        let long = "v=DKIM1; k=rsa; p=" + String(repeating: "B", count: 300)
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        // posix_spawn, not Foundation's Process: dnsmasq closes the descriptors Process watches.
        let dnsmasq = try SpawnedProcess("/usr/sbin/dnsmasq", [
            "--keep-in-foreground", "--no-resolv", "--no-hosts", "--listen-address=127.0.0.1", "--bind-interfaces",
            "--port=\(port)", "--local=/example.com/", "--pid-file=", "--conf-file=/dev/null",
            "--txt-record=a._domainkey.example.com,v=DKIM1; p=AB",
            "--txt-record=b._domainkey.example.com,\(long.prefix(255)),\(long.dropFirst(255))"], output: dir + "/dnsmasq.log")
        defer { dnsmasq.stop(timeout: 2) }
        let r = try SystemTXTResolver(nameserver: "127.0.0.1:\(port)", timeout: 1, tries: 2)
        var first = r.lookupTXT("a._domainkey.example.com")
        for _ in 0..<50 where first != .records(["v=DKIM1; p=AB"]) { usleep(100_000); first = r.lookupTXT("a._domainkey.example.com") }
        #expect(first == .records(["v=DKIM1; p=AB"]))
        #expect(r.lookupTXT("b._domainkey.example.com") == .records([long]))
        #expect(r.lookupTXT("none._domainkey.example.com") == .nameNotFound)
    }
}
