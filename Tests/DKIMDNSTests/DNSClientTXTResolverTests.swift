import DKIM
import DKIMDNS
import DKIMTestSupport
import Dispatch
import Foundation
import Testing

/// The client as the verifier's key resolver (it replaced glibc's res_nquery): strings joined,
/// CNAMEs, failures mapped, large answers, and the asynchronous lookup with a deadline.
@Suite struct DNSClientTXTResolverTests {
    static let key = "v=DKIM1; k=rsa; p=" + String(repeating: "A", count: 392)

    func resolver(_ server: FakeDNSServer, timeout: Int = 2, tries: Int = 1) throws -> DNSClient {
        try DNSClient(nameserver: server.address, timeout: timeout, tries: tries)
    }

    /// Waits for an asynchronous lookup (the completion runs on the client's thread).
    func lookUp(_ resolver: any AsyncTXTResolver, _ name: String,
                deadline: DispatchTime) -> (result: TXTLookupResult, ttl: UInt32?, seconds: Double) {
        let start = DispatchTime.now()
        let done = DispatchSemaphore(value: 0)
        let box = Box()
        resolver.lookupTXT(name, deadline: deadline) { result, ttl in
            box.value = (result, ttl)
            done.signal()
        }
        done.wait()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        return (box.value?.0 ?? .temporaryFailure(reason: "no result"), box.value?.1, seconds)
    }

    final class Box: @unchecked Sendable { var value: (TXTLookupResult, UInt32?)? }

    @Test func joinsTheStringsOfOneRecord() throws {
        let strings = stride(from: 0, to: Self.key.count, by: 255).map { String(Self.key.dropFirst($0).prefix(255)) }
        let server = try FakeDNSServer(["split._domainkey.example.com": .txt([strings])])
        #expect(strings.count == 2)
        #expect(try resolver(server).lookupTXT("split._domainkey.example.com") == .records([Self.key]))
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
        #expect(try resolver(server).lookupTXT("two._domainkey.example.com")
                == .records(["v=spf1 -all", "v=DKIM1; p=AB"]))
    }

    /// RFC 6376 §6.1.2: no record is a permanent "no key"; a failing server is temporary. NODATA
    /// maps to no records.
    @Test func mapsFailuresToPermanentAndTemporaryResults() throws {
        let server = try FakeDNSServer(["nodata._domainkey.example.com": .noData,
                                        "fail._domainkey.example.com": .servfail,
                                        "junk._domainkey.example.com": .garbage])
        let r = try resolver(server)
        #expect(r.lookupTXT("missing._domainkey.example.com") == .nameNotFound)
        #expect(r.lookupTXTWithTTL("nodata._domainkey.example.com") == (.records([]), nil))
        #expect(r.lookupTXT("fail._domainkey.example.com")
                == .temporaryFailure(reason: "the DNS server answered SERVFAIL (fail._domainkey.example.com)"))
        #expect(r.lookupTXT("junk._domainkey.example.com")
                == .temporaryFailure(reason: "the DNS answer is malformed (junk._domainkey.example.com)"))
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
        #expect(elapsed < 8, "took \(elapsed) s for timeout 1 s × 2 tries")
        #expect(server.queries(for: "slow._domainkey.example.com") == 2)
    }

    /// The client reads answers up to the 64 KiB a DNS message can hold, here 40 KB in one UDP
    /// datagram; a key record above 16 KiB is then refused when parsed, with its size in the reason.
    @Test func anOverlongAnswerIsReadWholeAndItsKeyRecordRefused() throws {
        let strings = (0..<160).map { _ in String(repeating: "A", count: 250) }
        let server = try FakeDNSServer(["huge._domainkey.example.com": .txt([["v=DKIM1; p="] + strings])])
        let result = try resolver(server).lookupTXT("huge._domainkey.example.com")
        guard case .records(let records) = result, let record = records.first else {
            Issue.record("expected the record, got \(result)")
            return
        }
        #expect(records.count == 1 && record.utf8.count == 11 + 40_000)
        #expect(server.tcpQueries(for: "huge._domainkey.example.com") == 0)
        do {
            _ = try KeyRecord(parsing: record)
            Issue.record("a 40 KB key record must be refused")
        } catch {
            #expect(error.code == .keySyntax)
            #expect(error.reason.contains("40011 bytes long; at most 16384"), "\(error.reason)")
        }
    }

    @Test func aTruncatedAnswerWithoutTCPIsATemporaryFailure() throws {
        let server = try FakeDNSServer(["tc._domainkey.example.com": .truncated])
        let start = Date()
        // A timeout no loaded machine reaches: one query means the truncated answer was not asked again.
        let result = try resolver(server, timeout: 10, tries: 2).lookupTXT("tc._domainkey.example.com")
        guard case .temporaryFailure = result else {
            Issue.record("a truncated answer must be a temporary failure, got \(result)")
            return
        }
        #expect(Date().timeIntervalSince(start) < 8, "at once, not after the 10 s timeout")
        #expect(server.queries(for: "tc._domainkey.example.com") == 1)
    }

    /// IPv4 and IPv6 name servers; names and bad ports are refused.
    @Test func takesIPv4AndIPv6NameserversOnly() throws {
        #expect(throws: DKIMError.self) { try DNSClient(nameserver: "ns.example.com") }
        #expect(throws: DKIMError.self) { try DNSClient(nameserver: "127.0.0.1:99999") }
        #expect(throws: DKIMError.self) { try DNSClient(nameserver: "127.0.0.1:0") }
        func servers(_ text: String) throws -> [String] {
            try DNSClient(nameserver: text).configuration.nameservers.map(\.description)
        }
        #expect(try servers("127.0.0.1:5353") == ["127.0.0.1:5353"])
        #expect(try servers("[::1]:5353") == ["[::1]:5353"])
        #expect(try servers("::1") == ["[::1]:53"])
    }

    @Test func theAsynchronousLookupAnswersAndHonoursItsDeadline() throws {
        let server = try FakeDNSServer(["s._domainkey.example.com": .txt([["v=DKIM1; p=AB"]], ttl: 200),
                                        "slow._domainkey.example.com": .silent])
        let r = try resolver(server, timeout: 5, tries: 2)
        let answered = lookUp(r, "s._domainkey.example.com", deadline: .now() + .seconds(5))
        #expect(answered.result == .records(["v=DKIM1; p=AB"]) && answered.ttl == 200)
        let silent = lookUp(r, "slow._domainkey.example.com", deadline: .now() + .milliseconds(300))
        #expect(silent.result
                == .temporaryFailure(reason: "the DNS server did not answer in time (slow._domainkey.example.com)"))
        #expect(silent.ttl == nil)
        #expect(silent.seconds >= 0.29 && silent.seconds < 5, "took \(silent.seconds) s for a 0.3 s deadline, not 10 s")
    }

    /// The same lookups against dnsmasq, a real DNS server, on a port of its own.
    @Test func worksAgainstDnsmasq() throws {
        let port = try #require(LoopbackSocket.freePort([.udp, .tcp]))
        let long = "v=DKIM1; k=rsa; p=" + String(repeating: "B", count: 300)
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        // posix_spawn, not Foundation's Process: dnsmasq closes the descriptors Process watches.
        let dnsmasq = try SpawnedProcess("/usr/sbin/dnsmasq", [
            "--keep-in-foreground", "--no-resolv", "--no-hosts", "--listen-address=127.0.0.1", "--bind-interfaces",
            "--port=\(port)", "--local=/example.com/", "--pid-file=", "--conf-file=/dev/null",
            "--txt-record=a._domainkey.example.com,v=DKIM1; p=AB",
            "--txt-record=b._domainkey.example.com,\(long.prefix(255)),\(long.dropFirst(255))",
            "--host-record=mail.example.com,192.0.2.25,2001:db8::25", "--mx-host=example.com,mail.example.com,10",
        ], output: dir + "/dnsmasq.log")
        defer { dnsmasq.stop(timeout: 2) }
        let r = try DNSClient(nameserver: "127.0.0.1:\(port)", timeout: 1, tries: 2)
        var first = r.lookupTXT("a._domainkey.example.com")
        for _ in 0..<50 where first != .records(["v=DKIM1; p=AB"]) {
            usleep(100_000)
            first = r.lookupTXT("a._domainkey.example.com")
        }
        #expect(first == .records(["v=DKIM1; p=AB"]))
        #expect(r.lookupTXT("b._domainkey.example.com") == .records([long]))
        #expect(r.lookupTXT("none._domainkey.example.com") == .nameNotFound)
        guard case .answer(let mx) = r.lookup("example.com", type: .mx),
              case .answer(let a) = r.lookup("mail.example.com", type: .a),
              case .answer(let aaaa) = r.lookup("mail.example.com", type: .aaaa) else {
            Issue.record("dnsmasq did not answer the MX, A and AAAA queries")
            return
        }
        #expect(mx.records == [.mx(preference: 10, exchange: "mail.example.com")])
        #expect(a.records.map(\.description) == ["192.0.2.25"])
        #expect(aaaa.records.map(\.description) == ["2001:db8::25"])
    }
}
