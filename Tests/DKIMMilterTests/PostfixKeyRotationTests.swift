import DKIM
import DKIMDNS
import DKIMKeyCheck
import DKIMTestSupport
import Foundation
import Testing

/// A key rotation during a steady load through real Postfix: at the sink every message carries
/// one signature by the selector active when it was signed, and it verifies.
@Suite(.serialized) struct PostfixKeyRotationTests {
    @Test func aRotationDuringASteadyLoadThroughPostfixLosesNoSignature() throws {
        try Postfix.requireInstalled()
        let bind = try BINDServer(zones: [BINDServer.Zone("example.test")])
        defer { bind.stop() }
        let lab = try Lab()
        defer { lab.tearDown() }
        let keys = lab.directory + "/keys"
        try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
        let t0 = KeyRotationEndToEndTests.t0
        let later = t0 + 181 * KeyRotationEndToEndTests.day
        for t in [t0, t0 + 3600] {
            let r = try KeyRotationEndToEndTests.rotate(bind, keys: keys, at: t)
            #expect(r.status == 0, "\(r.stdoutText) \(r.stderr)")
        }
        let config = try lab.write(Array("""
            Mode             s
            KeysDirectory    \(keys)
            Nameservers      \(bind.address)
            DNSTimeout       1
            KeyCheckInterval 1

            """.utf8), name: "dkim-milter.conf")
        let ports = try Loopback.freePorts(3)
        let sink = try lab.sink(port: ports[0])
        let milter = try lab.milter(port: ports[1], arguments: ["--config", config])
        let postfix = try lab.postfix("home", port: ports[2], relayTo: sink.port, milterPort: milter.port)

        // A steady load over SMTP; the rotation happens in the middle of it.
        let client = try SMTPClient(port: postfix.port)
        defer { client.close() }
        var sent = 0
        func send(_ count: Int) throws {
            for _ in 0..<count {
                sent += 1
                let message = Lab.crlf("""
                    From: Alice <alice@example.test>
                    To: Bob <bob@example.org>
                    Subject: rotation \(sent)
                    Date: Tue, 01 Dec 2026 10:00:00 +0000
                    Message-ID: <rotation-\(sent)@example.test>

                    message \(sent)
                    """)
                let replies = try client.transaction(message, from: "alice@example.test", to: "r\(sent)@example.org")
                #expect(replies.accepted, "\(sent): \(replies)")
            }
        }
        try send(15)
        var r = try KeyRotationEndToEndTests.rotate(bind, keys: keys, at: later)
        #expect(r.status == 0, "\(r.stdoutText) \(r.stderr)")
        #expect(milter.logContains("example.test: now signing with s=s202703 (was s=s202609)"), "\(milter.log)")
        try send(15)
        r = try KeyRotationEndToEndTests.rotate(bind, keys: keys, at: later + 3600)
        try send(10)
        try client.quit()
        try postfix.waitUntilQueueIsEmpty()
        let arrived = try sink.waitForMessages(sent)

        // Each message: one signature, s202609 before the switch and s202703 after, verifying
        // against the records DNS serves (both are still published during the overlap).
        let dns = try DNSClient(nameserver: bind.address, timeout: 2, tries: 1)
        var records = ""
        for s in ["s202609", "s202703"] {
            if case .records(let list) = dns.lookupTXT("\(s)._domainkey.example.test"), let first = list.first {
                records += "\(s)._domainkey.example.test\t\(first)\n"
            }
        }
        let recordsFile = try lab.write(Array(records.utf8), name: "records.txt")
        var selectors: [String] = []
        for n in 1...sent {
            let m = try #require(arrived.message(to: "r\(n)@example.org"), "message \(n) did not arrive")
            let signatures = Lab.headerFields(m).filter { $0.name.lowercased() == "dkim-signature" }
            #expect(signatures.count == 1, "message \(n)")
            let selector = signatures.first.flatMap { sig in
                sig.value.split(separator: ";").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                    .first { $0.hasPrefix("s=") }.map { String($0.dropFirst(2)) }
            } ?? "-"
            selectors.append(selector)
            let file = try lab.write(m, name: "arrived-\(n).eml")
            let v = try ProcessRunner.run(Fixtures.dkimkey, ["verify", "--records", recordsFile, file], timeout: 30)
            #expect(v.status == 0, "message \(n): \(v.stdoutText)")
        }
        // The first 15 were signed before the switch, the last 25 after it; the old key never after.
        #expect(selectors.prefix(15).allSatisfy { $0 == "s202609" }, "\(selectors)")
        #expect(selectors.suffix(25).allSatisfy { $0 == "s202703" }, "\(selectors)")
        let firstNew = selectors.firstIndex(of: "s202703") ?? selectors.count
        #expect(!selectors[firstNew...].contains("s202609"), "\(selectors)")
    }
}
