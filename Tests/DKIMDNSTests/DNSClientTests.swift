import DKIM
import DKIMDNS
import DKIMTestSupport
import Dispatch
import Foundation
import Testing

/// The event-driven client against the project's fake server on loopback: each record type,
/// each kind of failure, forged answers, TCP after truncation, deadlines.
@Suite struct DNSClientTests {
    static func client(_ servers: FakeDNSServer..., timeout: Double = 2, tries: Int = 1) throws -> DNSClient {
        try DNSClient(configuration: .init(nameservers: servers.map { try DNSNameserver($0.address) },
                                           timeout: timeout, tries: tries))
    }

    static func seconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }

    @Test func answersEachRecordTypeWithItsTTL() throws {
        let server = try FakeDNSServer([
            "a.example.com": .a(["192.0.2.1", "192.0.2.2"], ttl: 60),
            "aaaa.example.com": .aaaa(["2001:db8::1"], ttl: 70),
            "mx.example.com": .mx([(10, "mx1.example.com"), (20, "mx2.example.com")], ttl: 80),
            "txt.example.com": .txt([["v=spf1 ", "-all"]], ttl: 90),
        ])
        let client = try Self.client(server)
        #expect(client.lookup("a.example.com", type: .a)
                == .answer(DNSAnswer(records: [.a([192, 0, 2, 1]), .a([192, 0, 2, 2])], ttl: 60)))
        #expect(client.lookup("aaaa.example.com", type: .aaaa)
                == .answer(DNSAnswer(records: [.aaaa([0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1])],
                                     ttl: 70)))
        #expect(client.lookup("mx.example.com", type: .mx) == .answer(DNSAnswer(records: [
            .mx(preference: 10, exchange: "mx1.example.com"), .mx(preference: 20, exchange: "mx2.example.com"),
        ], ttl: 80)))
        #expect(client.lookup("txt.example.com", type: .txt)
                == .answer(DNSAnswer(records: [.txt("v=spf1 -all")], ttl: 90)))
    }

    @Test func aCNAMEChainIsFollowedAndItsSmallestTTLKept() throws {
        let server = try FakeDNSServer(["www.example.com": .cname("host.example.net", ttl: 30),
                                        "host.example.net": .a(["198.51.100.7"], ttl: 300)])
        #expect(try Self.client(server).lookup("www.example.com", type: .a)
                == .answer(DNSAnswer(records: [.a([198, 51, 100, 7])], ttl: 30, canonicalName: "host.example.net")))
    }

    /// RFC 2308 §2: NXDOMAIN (the name does not exist) and NODATA (no record of the type) differ.
    @Test func tellsAMissingNameFromAMissingType() throws {
        let server = try FakeDNSServer(["empty.example.com": .noData, "a.example.com": .a(["192.0.2.1"])])
        let client = try Self.client(server)
        #expect(client.lookup("missing.example.com", type: .txt) == .nameNotFound)
        #expect(client.lookup("empty.example.com", type: .txt) == .noData)
        #expect(client.lookup("a.example.com", type: .mx) == .noData)
    }

    @Test func SERVFAILIsATemporaryFailureAfterEveryTry() throws {
        let server = try FakeDNSServer(["fail.example.com": .servfail])
        // A timeout long enough that no try is cut short on a loaded machine: the queries are the tries.
        #expect(try Self.client(server, timeout: 30, tries: 2).lookup("fail.example.com", type: .txt)
                == .temporaryFailure(.serverFailure))
        #expect(server.queries(for: "fail.example.com") == 2)
    }

    @Test func garbageWithTheQueryIdIsMalformed() throws {
        let server = try FakeDNSServer(["junk.example.com": .garbage])
        #expect(try Self.client(server).lookup("junk.example.com", type: .txt) == .temporaryFailure(.malformed))
    }

    @Test func aSilentServerIsATimeoutAfterItsTries() throws {
        let server = try FakeDNSServer(["slow.example.com": .silent])
        let start = DispatchTime.now()
        #expect(try Self.client(server, timeout: 0.5, tries: 2).lookup("slow.example.com", type: .txt)
                == .temporaryFailure(.timedOut))
        let elapsed = Self.seconds(since: start)
        #expect(elapsed >= 0.9 && elapsed < 10, "took \(elapsed) s for 0.5 s × 2 tries")
        #expect(server.queries(for: "slow.example.com") == 2)
    }

    /// The caller's deadline ends the query before its tries would: not earlier, not much later.
    @Test func theDeadlineIsHonoured() throws {
        let server = try FakeDNSServer(["slow.example.com": .silent])
        let client = try Self.client(server, timeout: 5, tries: 2)
        let start = DispatchTime.now()
        #expect(client.lookup("slow.example.com", type: .txt, deadline: start + .milliseconds(400))
                == .temporaryFailure(.timedOut))
        let elapsed = Self.seconds(since: start)
        #expect(elapsed >= 0.39 && elapsed < 5, "took \(elapsed) s for a 0.4 s deadline, not the 10 s of the tries")
        #expect(client.lookup("slow.example.com", type: .txt, deadline: .now() - .seconds(1))
                == .temporaryFailure(.timedOut))
    }

    /// RFC 5452 §9.1: a reply with another id, from another port, or for another question is
    /// dropped (not taken as a failure) and the real answer that follows is taken.
    @Test func forgedAnswersAreIgnoredAndTheRealOneTaken() throws {
        let server = try FakeDNSServer(["spoofed.example.com": .decoys([["real"]])])
        #expect(try Self.client(server).lookup("spoofed.example.com", type: .txt)
                == .answer(DNSAnswer(records: [.txt("real")], ttl: 300)))
    }

    /// RFC 7766 §5: a truncated UDP answer is asked again over TCP; 40 KB come whole.
    @Test func aTruncatedAnswerIsAskedAgainOverTCP() throws {
        let strings = (0..<160).map { _ in String(repeating: "T", count: 250) }
        let server = try FakeDNSServer(["big.example.com": .tcpOnly(.txt([strings], ttl: 120))], tcp: true)
        let result = try Self.client(server).lookup("big.example.com", type: .txt)
        #expect(result == .answer(DNSAnswer(records: [.txt(strings.joined())], ttl: 120)))
        #expect(server.queries(for: "big.example.com") == 2)
        #expect(server.tcpQueries(for: "big.example.com") == 1)
    }

    @Test func aTruncatedAnswerWithoutTCPIsATemporaryFailureWithinTheDeadline() throws {
        let server = try FakeDNSServer(["tc.example.com": .tcpOnly(.txt([["x"]]))])
        let start = DispatchTime.now()
        let client = try Self.client(server, timeout: 30)
        #expect(client.lookup("tc.example.com", type: .txt, deadline: start + .seconds(10))
                == .temporaryFailure(.truncated))
        #expect(Self.seconds(since: start) < 12, "not after the 10 s deadline, let alone the 30 s timeout")
        let tcpServer = try FakeDNSServer(["tc.example.com": .truncated], tcp: true)
        #expect(try Self.client(tcpServer).lookup("tc.example.com", type: .txt) == .temporaryFailure(.malformed))
    }

    /// RFC 6891 §6.1.2: the query carries an OPT record offering 4,096-byte UDP answers; a server
    /// that answers FORMERR to it is asked again without (§7).
    @Test func sendsEDNS0AndFallsBackWhenTheServerRejectsIt() throws {
        let server = try FakeDNSServer(["txt.example.com": .txt([["x"]]),
                                        "old.example.com": .formErrorToEDNS(.txt([["y"]]))])
        let client = try Self.client(server)
        #expect(client.lookup("txt.example.com", type: .txt) == .answer(DNSAnswer(records: [.txt("x")], ttl: 300)))
        let query = try #require(server.lastQuery(for: "txt.example.com"))
        #expect(query[10] == 0 && query[11] == 1, "one additional record")
        #expect(Array(query.suffix(11)) == [0, 0, 41, 0x10, 0x00, 0, 0, 0, 0, 0, 0])
        #expect(client.lookup("old.example.com", type: .txt) == .answer(DNSAnswer(records: [.txt("y")], ttl: 300)))
        #expect(server.queries(for: "old.example.com") == 2)
        #expect(server.lastQuery(for: "old.example.com")?[11] == 0)
    }

    /// RFC 5452 §9.2: ids are random, not a counter.
    @Test func queryIdsAreRandom() throws {
        let server = try FakeDNSServer([:])
        let client = try Self.client(server)
        var ids = Set<UInt16>()
        for i in 0..<32 {
            _ = client.lookup("n\(i).example.com", type: .a)
            if let q = server.lastQuery(for: "n\(i).example.com") { ids.insert(UInt16(q[0]) << 8 | UInt16(q[1])) }
        }
        #expect(ids.count >= 28, "ids \(ids.sorted())")
    }

    /// Nothing listens at the server's port: the ICMP refusal ends each try at once.
    @Test func aServerThatIsNotThereFailsAtOnce() throws {
        let (fd, port) = try #require(LoopbackSocket.bound(.udp))
        close(fd)
        let client = try DNSClient(configuration: .init(nameservers: [DNSNameserver("127.0.0.1:\(port)")],
                                                        timeout: 30, tries: 2))
        let start = DispatchTime.now()
        #expect(client.lookup("any.example.com", type: .txt) == .temporaryFailure(.unreachable(errno: ECONNREFUSED)))
        #expect(Self.seconds(since: start) < 10, "a try waited for its 30 s timeout")
    }

    @Test func aNameThatCannotBeSentIsRefusedWithoutAQuery() throws {
        let server = try FakeDNSServer([:])
        let client = try Self.client(server)
        #expect(client.lookup(String(repeating: "x", count: 64) + ".example.com", type: .txt)
                == .temporaryFailure(.invalidName))
        #expect(client.lookup("a..example.com", type: .txt) == .temporaryFailure(.invalidName))
        #expect(server.totalQueries == 0)
    }

    @Test func asksAnIPv6Server() throws {
        let server = try FakeDNSServer(["v6.example.com": .aaaa(["::1"], ttl: 50)], ipv6: true)
        #expect(try Self.client(server).lookup("v6.example.com", type: .aaaa)
                == .answer(DNSAnswer(records: [.aaaa([UInt8](repeating: 0, count: 15) + [1])], ttl: 50)))
    }

    /// A try that times out goes to the next server (resolv.conf(5): servers in turn).
    @Test func triesTheNextServerWhenOneIsSilent() throws {
        let dead = try FakeDNSServer(["s.example.com": .silent])
        let live = try FakeDNSServer(["s.example.com": .txt([["ok"]])])
        let start = DispatchTime.now()
        #expect(try Self.client(dead, live, timeout: 1, tries: 1).lookup("s.example.com", type: .txt)
                == .answer(DNSAnswer(records: [.txt("ok")], ttl: 300)))
        #expect(Self.seconds(since: start) < 10)
        #expect(dead.queries(for: "s.example.com") == 1 && live.queries(for: "s.example.com") == 1)
    }

    @Test func rotateStartsEachQueryAtTheNextServer() throws {
        let one = try FakeDNSServer(["r.example.com": .txt([["1"]])])
        let two = try FakeDNSServer(["r.example.com": .txt([["2"]])])
        let servers = try [DNSNameserver(one.address), DNSNameserver(two.address)]
        // One try each, with a timeout no loaded machine reaches: a retransmission would upset the count.
        let client = try DNSClient(configuration: .init(nameservers: servers, timeout: 30, tries: 1, rotate: true))
        let answers = (0..<4).map { _ in client.lookup("r.example.com", type: .txt) }
        #expect(Set(answers.map { "\($0)" }).count == 2)
        #expect(one.queries(for: "r.example.com") == 2 && two.queries(for: "r.example.com") == 2)
    }
}
