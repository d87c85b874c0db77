import DKIM
import DKIMTestSupport
import Foundation
import Glibc
import Testing

/// The key store's outage seen from the mail flow: a relay Postfix (no milter) hands mail to a
/// signing Postfix whose dkim-milter reads its keys from PostgreSQL, which is killed in the middle
/// of the load. Cached domains keep signing, the others are deferred (451) and queued by the
/// relay; once the database is back every accepted message reaches the sink signed, none lost.
@Suite(.serialized) struct PostfixDatabaseOutageTests {
    static func message(_ n: Int, from domain: String) -> [UInt8] {
        Lab.crlf("""
            From: Alice <alice@\(domain)>
            To: Bob <bob@example.org>
            Subject: message \(n)
            Date: Tue, 01 Dec 2026 10:00:00 +0000
            Message-ID: <pg-outage-\(n)@\(domain)>

            Message \(n).
            """)
    }

    @Test func aDatabaseKilledMidLoadDefersMailUntilItIsBackAndNoneIsLostOrUnsigned() throws {
        try Postfix.requireInstalled()
        let lab = try Lab()
        defer { lab.tearDown() }
        let key = try DatabaseKeyStoreTests.keyFile(lab.directory)
        let pg = try DatabaseKeyStoreTests.server(rows: 40, keyPath: key)
        defer { pg.stop() }
        let config = try lab.write(Array("""
            Mode             s
            RequireSafeKeys  no
            KeyStoreTimeout  1
            \(DatabaseKeyStoreTests.tables(pg, tcp: true))

            """.utf8), name: "dkim-milter.conf")
        let ports = try Loopback.freePorts(4)
        let sink = try lab.sink(port: ports[0])
        let milter = try lab.milter(port: ports[1], arguments: ["--config", config])
        let signer = try lab.postfix("signer", port: ports[2], relayTo: sink.port, milterPort: milter.port,
                                     extra: ["milter_connect_timeout": "5s", "milter_command_timeout": "5s"])
        let relay = try lab.postfix("relay", port: ports[3], relayTo: signer.port)

        var sent: [(n: Int, domain: String)] = []
        let client = try SMTPClient(port: relay.port)
        defer { client.close() }
        func send(_ domain: String) throws {
            let n = sent.count + 1
            let replies = try client.transaction(Self.message(n, from: domain), from: "alice@\(domain)",
                                                 to: "r\(n)@example.org")
            #expect(replies.accepted, "\(n): \(replies)")
            sent.append((n, domain))
        }
        // Warm: d1…d5 signed once, so their keys are cached.
        for i in 1...5 { try send("d\(i).example") }
        try relay.waitUntilQueueIsEmpty()
        try signer.waitUntilQueueIsEmpty()
        _ = try sink.waitForMessages(5)

        // The database is killed; the load goes on: cached domains and ten never seen.
        pg.kill()
        for i in 1...20 { try send(i % 2 == 0 ? "d\((i / 2) % 5 + 1).example" : "d\(10 + i).example") }
        try client.quit()
        // The signer refuses the uncached ones with 451 (On-KeyStoreError tempfail); the relay keeps them.
        #expect(signer.logContains("4.7.1 Service unavailable - try again later; from=<alice@d29.example>"))
        let refused = signer.log.split(separator: "\n").filter { $0.contains("milter-reject: END-OF-MESSAGE") }
        #expect(refused.count == 10 && refused.allSatisfy { !$0.contains("alice@d1.example") }, "\(refused)")
        let deadline = Date().addingTimeInterval(20)
        // (Until exactly ten: a cached domain's message may still be on its way out of the queue.)
        while relay.queuedFiles.count != 10 && Date() < deadline { usleep(200_000) }
        #expect(relay.queuedFiles.count == 10, "queued at the relay: \(relay.queuedFiles.count)\n\(relay.log)")
        #expect(milter.logContains("key store:"), "\(milter.log)")

        // Back: a flush or two, and everything arrives.
        try pg.start()
        let end = Date().addingTimeInterval(60)
        while (relay.queuedFiles.count > 0 || signer.queuedFiles.count > 0) && Date() < end {
            try relay.flush()
            try signer.flush()
            Thread.sleep(forTimeInterval: 1)
        }
        try relay.waitUntilQueueIsEmpty()
        try signer.waitUntilQueueIsEmpty()
        let arrived = try sink.waitForMessages(sent.count)
        #expect(sent.count == 25)

        // Counted in and out: each message once, with one signature by its own domain, verifying.
        let record = try Fixtures.text("corpus/keys.txt").split(separator: "\n")
            .first { $0.hasPrefix("sr2048a._domainkey.example.com\t") }.map { $0.split(separator: "\t")[1] }
        let records = (1...40).map { "sel._domainkey.d\($0).example\t\(record ?? "")\n" }.joined()
        let recordsFile = try lab.write(Array(records.utf8), name: "records.txt")
        var paths: [String] = []
        for (n, domain) in sent {
            let m = try #require(arrived.message(to: "r\(n)@example.org"), "message \(n) lost:\n\(relay.log)")
            let signatures = Lab.headerFields(m).filter { $0.name.lowercased() == "dkim-signature" }
            #expect(signatures.count == 1, "message \(n) has \(signatures.count) signatures")
            #expect(signatures.first?.value.contains("d=\(domain);") == true, "message \(n): \(signatures)")
            paths.append(try lab.write(m, name: "arrived-\(n).eml"))
        }
        let verified = try ProcessRunner.run(Fixtures.dkimkey, ["verify", "--records", recordsFile] + paths,
                                             timeout: 60)
        #expect(verified.status == 0, "not every message verifies:\n\(verified.stdoutText)")
    }
}
