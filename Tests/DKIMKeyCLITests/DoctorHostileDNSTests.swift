import DKIMPolicy
import DKIMTestSupport
import Foundation
import Testing

/// `dkimkey doctor` against DNS that is broken or hostile (the project's fake server on
/// loopback): a huge SPF record over TCP, CNAME loops, SERVFAIL, names that never answer. Every
/// run ends within its time limit and its query bounds, says temperror for what it could not
/// learn, and does not crash.
@Suite("dkimkey doctor on hostile DNS")
struct DoctorHostileDNSTests {
    /// An SPF record of about 40 KB: 3,000 ip4 terms, then an include that never answers.
    static let hugeRecord: [[String]] = {
        let terms = (0..<3000).map { "ip4:10.\($0 / 250).\($0 % 250).0/24" }.joined(separator: " ")
        let text = "v=spf1 " + terms + " include:slow.hostile.test -all"
        let bytes = Array(text.utf8)
        return [stride(from: 0, to: bytes.count, by: 255).map {
            String(decoding: bytes[$0..<min($0 + 255, bytes.count)], as: UTF8.self)
        }]
    }()

    static func server() throws -> FakeDNSServer {
        try FakeDNSServer([
            "hostile.test": .tcpOnly(.txt(hugeRecord)),
            "slow.hostile.test": .silent,
            "_dmarc.hostile.test": .cname("loop1.hostile.test"),
            "loop1.hostile.test": .cname("loop2.hostile.test"),
            "loop2.hostile.test": .cname("loop1.hostile.test"),
            "mail._domainkey.hostile.test": .servfail,
            "relay.hostile.test": .cname("relay.hostile.test"),
            "garbage.hostile.test": .garbage,
        ], tcp: true)
    }

    @Test func brokenDNSEndsInTemperrorWithinBounds() throws {
        let dns = try Self.server()
        let started = Date()
        let r = try CLI.run(["doctor", "hostile.test", "--selector", "mail", "--relay", "relay.hostile.test",
                             "--keys-dir", "/nonexistent", "--nameserver", dns.address, "--timeout", "1",
                             "--time-limit", "20"], timeout: 60)
        let seconds = Date().timeIntervalSince(started)
        #expect(r.endedNormally, "\(r.summary)")
        #expect(r.status == 1, "\(r.summary)")
        let out = r.stdoutText
        #expect(out.contains("FAIL dns: mail._domainkey.hostile.test: the DNS server"), "\(out)")
        #expect(out.contains("FAIL record: temperror: the DMARC policy of hostile.test is unknown"), "\(out)")
        #expect(out.contains("temperror: the DNS lookup of TXT slow.hostile.test failed (the DNS server did not "
            + "answer in time)"), "\(out)")
        #expect(out.contains("FAIL relay: the relay relay.hostile.test (from --relay) could not be looked up"),
                "\(out)")
        #expect(out.contains("SPF ?"), "the receivers' table says SPF is unknown: \(out)")
        #expect(seconds < 20, "took \(seconds) s")
        #expect(dns.totalQueries <= DKIMPolicy.Doctor.Budgets.total, "\(dns.totalQueries) queries")
        #expect(dns.tcpQueries(for: "hostile.test") >= 1, "the huge record came over TCP")
    }

    @Test func aServerThatNeverAnswersIsBoundByTheTimeLimit() throws {
        let dns = try FakeDNSServer([:], tcp: false)
        dns.stop()
        let started = Date()
        // Without the limit this run waits 20 s (four names time out, 2 tries of 5 s, some at once); with it, 3 s.
        let r = try CLI.run(["doctor", "silent.test", "--relay", "smtp.silent.test", "--keys-dir", "/nonexistent",
                             "--nameserver", dns.address, "--timeout", "5", "--time-limit", "3"], timeout: 60)
        let seconds = Date().timeIntervalSince(started)
        #expect(r.endedNormally && r.status == 1, "\(r.summary)")
        #expect(seconds < 10, "took \(seconds) s for a time limit of 3 s")
        #expect(r.stdoutText.contains("temperror"), "\(r.stdoutText)")
        #expect(r.stdoutText.contains("Result: not ready"), "\(r.stdoutText)")
    }

    @Test func garbageAndLoopsNeverCrashTheJSONOutput() throws {
        let dns = try Self.server()
        let r = try CLI.run(["doctor", "garbage.hostile.test", "--relay", "[loop1.hostile.test]:25", "--json",
                             "--keys-dir", "/nonexistent", "--nameserver", dns.address, "--timeout", "1"], timeout: 60)
        #expect(r.endedNormally && r.status == 1, "\(r.summary)")
        let object = try #require(try r.jsonLines().first)
        let findings = try #require(object["findings"] as? [[String: Any]])
        #expect(findings.contains { ($0["message"] as? String ?? "").contains("temperror") }, "\(r.stdoutText)")
    }

    @Test(arguments: [["doctor"], ["doctor", "bad_domain"], ["doctor", "example.test", "--timeout", "0"],
                      ["doctor", "example.test", "--relay", "a b"],
                      ["doctor", "example.test", "--relay", "x", "--postfix-config", "/etc/postfix"],
                      ["doctor", "example.test", "--postfix-config", "/nonexistent"],
                      ["doctor", "example.test", "--selector", "bad selector"]])
    func usageErrorsExitTwo(_ arguments: [String]) throws {
        let r = try CLI.run(arguments + ["--nameserver", "127.0.0.1:9"])
        #expect(r.status == 2, "\(arguments): \(r.summary)")
        #expect(r.stdout.isEmpty, "\(arguments): \(r.stdoutText)")
    }
}
