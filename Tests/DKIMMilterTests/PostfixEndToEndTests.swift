import DKIMTestSupport
import Foundation
import Glibc
import Testing

/// dkim-milter inside real Postfix (3.7, Debian's `postfix` package, installed by contrib/setup.sh):
/// throwaway Postfix instances on 127.0.0.1 with their own directories and ports, smtp-sink behind
/// them, messages sent over SMTP, and what arrives at the sink checked with dkimpy, Mail::DKIM,
/// OpenDKIM and `dkimkey verify`. How such an instance is run: ../shared/notes/postfix-testing.md.
///
/// Every test stops what it started, by PID, also when an expectation fails: Postfix's `master`
/// (run in a session of its own, so that it leads its process group) and the rest of its process
/// group, smtp-sink and dkim-milter. The Postfix runner, the sink and the SMTP client are in
/// DKIMTestSupport (Lab, Postfix, SMTPSink, SMTPClient), shared with `dkim-bench postfix`.
@Suite(.serialized)
struct PostfixEndToEndTests {
    static let records = Fixtures.corpus + "/keys.txt"
    static let signingKey = [(file: "rsa2048a.pem", domain: "example.com", selector: "sr2048a")]

    // MARK: 1. Signing

    @Test func signsMailFromAnInternalClientAndEveryVerifierPassesItAtTheSink() throws {
        try Postfix.requireInstalled()
        let lab = try Lab()
        defer { lab.tearDown() }
        let ports = try Loopback.freePorts(3)
        let sink = try lab.sink(port: ports[0])
        let milter = try lab.milter(port: ports[1], arguments: ["--keys-dir", lab.keyStore(Self.signingKey)])
        let postfix = try lab.postfix("a", port: ports[2], relayTo: sink.port, milterPort: milter.port)

        // Over SMTP from 127.0.0.1 (internal by default), with a dot-stuffed line and trailing blanks.
        let message = Lab.crlf("""
            From: Alice <alice@example.com>
            To: Bob <bob@example.org>
            Subject: end to end through Postfix
            Date: Sat, 28 Nov 2026 10:00:00 +0000
            Message-ID: <e2e-smtp@example.com>

            Hello Bob,
            .a line that smtp dot-stuffs
            trailing blanks   \t
            """)
        let replies = try SMTPClient.send(message, from: "alice@example.com", to: "smtp@example.org",
                                          port: postfix.port)
        #expect(replies.accepted, "\(replies)")

        // The non-SMTP path (sendmail → postdrop → pickup → cleanup) goes through non_smtpd_milters.
        let sendmail = try ProcessRunner.run("/usr/sbin/sendmail",
                                             ["-C", postfix.configDirectory, "-i", "-f", "alice@example.com",
                                              "sendmail@example.org"],
                                             input: Array("""
                                                From: Alice <alice@example.com>
                                                To: Bob <bob@example.org>
                                                Subject: end to end through sendmail
                                                Date: Sat, 28 Nov 2026 10:00:00 +0000
                                                Message-ID: <e2e-sendmail@example.com>

                                                Hello from the pickup service.

                                                """.utf8), timeout: 30)
        #expect(sendmail.status == 0, "\(sendmail.stderr)")

        try postfix.waitUntilQueueIsEmpty()
        let arrived = try sink.waitForMessages(2)
        for rcpt in ["smtp@example.org", "sendmail@example.org"] {
            let m = try #require(arrived.message(to: rcpt), "nothing for \(rcpt) at the sink: \(postfix.log)")
            let fields = Lab.headerFields(m)
            let signatures = fields.filter { $0.name.lowercased() == "dkim-signature" }
            #expect(signatures.count == 1, "\(rcpt): \(String(decoding: m, as: UTF8.self))")
            #expect(signatures.first?.value.contains("d=example.com;") == true)
            #expect(signatures.first?.value.contains("s=sr2048a;") == true)
            let file = try lab.write(m, name: "signed-\(rcpt).eml")
            for verifier in ReferenceVerifier.allCases {
                #expect(try verifier.results(file) == ["pass"],
                        "\(verifier) on \(rcpt): \(String(decoding: m, as: UTF8.self))")
            }
            let dkimkey = try ProcessRunner.run(Fixtures.dkimkey, ["verify", "--records", Self.records, file],
                                                timeout: 30)
            #expect(dkimkey.status == 0, "\(dkimkey.stdoutText)\(dkimkey.stderr)")
            #expect(dkimkey.stdoutText.contains("[1] d=example.com s=sr2048a a=rsa-sha256: pass, aligned with From"),
                    "\(dkimkey.stdoutText)")
        }
        #expect(arrived.message(to: "smtp@example.org")
            .map { Lab.text($0).contains("\n.a line that smtp dot-stuffs\r\n") } == true)
        #expect(milter.logContains("signing example.com with s=sr2048a (rsa-sha256): client 127.0.0.1 is internal"),
                "\(milter.log)")
    }

    // MARK: 2. Verifying

    @Test func verifiesIncomingMailAndReplacesForgedResults() throws {
        try Postfix.requireInstalled()
        let lab = try Lab()
        defer { lab.tearDown() }
        let ports = try Loopback.freePorts(3)
        let sink = try lab.sink(port: ports[0])
        // 127.0.0.1 is not internal here: everything Postfix hands over is verified, nothing signed
        // (the key store has a key for example.com, the From domain of the messages).
        let config = try lab.write(Array("""
            InternalHosts   192.0.2.1
            AuthservID      test.example
            Mode            sv
            KeysDirectory   \(try lab.keyStore(Self.signingKey))
            TestPublicKeys  \(Self.records)

            """.utf8), name: "dkim-milter.conf")
        let milter = try lab.milter(port: ports[1], arguments: ["--config", config])
        let postfix = try lab.postfix("mx", port: ports[2], relayTo: sink.port, milterPort: milter.port)

        let signed = try Fixtures.bytes("corpus/messages/canon-basic-rr.eml")
        let tampered = try Lab.replacingFirst("lunch", with: "lunce", in: signed)
        let forged = Lab.crlf("""
            Authentication-Results: test.example; dkim=pass header.d=example.com header.s=sr2048a
            Authentication-Results: other.example; dkim=pass header.d=other.example
            Authentication-Results: TEST.EXAMPLE;
            \tdkim=pass header.d=example.com

            """) + tampered
        let client = try SMTPClient(port: postfix.port)
        defer { client.close() }
        let cases = [(signed, "pass@example.org"), (tampered, "fail@example.org"), (forged, "forged@example.org")]
        for (message, rcpt) in cases {
            let replies = try client.transaction(message, from: "carol@example.com", to: rcpt)
            #expect(replies.accepted, "\(rcpt): \(replies)")
        }
        try client.quit()

        try postfix.waitUntilQueueIsEmpty()
        let arrived = try sink.waitForMessages(3)
        func results(_ rcpt: String) throws -> (ours: [String], others: [String], signatures: Int) {
            let m = try #require(arrived.message(to: rcpt), "nothing for \(rcpt) at the sink: \(postfix.log)")
            let fields = Lab.headerFields(m)
            let ar = fields.filter { $0.name.lowercased() == "authentication-results" }.map(\.value)
            return (ar.filter { Lab.authservID($0) == "test.example" },
                    ar.filter { Lab.authservID($0) != "test.example" },
                    fields.filter { $0.name.lowercased() == "dkim-signature" }.count)
        }

        let pass = try results("pass@example.org")
        #expect(pass.ours.count == 1 && pass.ours.first?.contains("dkim=pass header.d=example.com") == true, "\(pass)")
        #expect(pass.signatures == 1, "the milter signed mail from a client that is not internal")

        let fail = try results("fail@example.org")
        #expect(fail.ours.count == 1 && fail.ours.first?.contains("dkim=fail") == true, "\(fail)")
        #expect(fail.ours.first?.contains("dkim=pass") == false, "\(fail)")

        let forgedResults = try results("forged@example.org")
        #expect(forgedResults.ours.count == 1, "forged results for test.example survived: \(forgedResults.ours)")
        #expect(forgedResults.ours.first?.contains("dkim=fail") == true, "\(forgedResults)")
        #expect(forgedResults.ours.first?.contains("dkim=pass") == false, "\(forgedResults)")
        #expect(forgedResults.others == ["other.example; dkim=pass header.d=other.example"], "\(forgedResults)")

        #expect(milter.logContains("not signing: client 127.0.0.1 is not internal"), "\(milter.log)")
    }

    /// Keys from a real DNS server on loopback; the server dies mid-test: the next message is
    /// delivered with dkim=temperror (On-DNSError accept, the default), never without a header.
    @Test func verifiesThroughDNSAndADeadServerGivesTemperrorNotASilentAccept() throws {
        try Postfix.requireInstalled()
        let lab = try Lab()
        defer { lab.tearDown() }
        let dns = try MilterDNSTests.server()
        let ports = try Loopback.freePorts(3)
        let sink = try lab.sink(port: ports[0])
        let config = try lab.write(Array("""
            Mode            v
            Nameservers     \(dns.address)
            DNSTimeout      1
            AuthservID      test.example

            """.utf8), name: "dkim-milter.conf")
        let milter = try lab.milter(port: ports[1], arguments: ["--config", config])
        let postfix = try lab.postfix("mx", port: ports[2], relayTo: sink.port, milterPort: milter.port)

        let client = try SMTPClient(port: postfix.port)
        defer { client.close() }
        let first = try client.transaction(try Fixtures.bytes("corpus/messages/canon-basic-rr.eml"),
                                           from: "a@example.com", to: "up@example.org")
        #expect(first.accepted, "\(first)")
        // At least one (with DNSTimeout 1 a loaded machine may send it again).
        #expect(dns.queries(for: "sr2048a._domainkey.example.com") >= 1)
        dns.stop()
        let second = try client.transaction(try Fixtures.bytes("corpus/messages/canon-basic-rs.eml"),
                                            from: "a@example.com", to: "down@example.org")
        #expect(second.accepted, "\(second)")
        try client.quit()

        try postfix.waitUntilQueueIsEmpty()
        let arrived = try sink.waitForMessages(2)
        func ours(_ rcpt: String) throws -> [String] {
            let m = try #require(arrived.message(to: rcpt), "nothing for \(rcpt) at the sink: \(postfix.log)")
            return Lab.headerFields(m).filter { $0.name.lowercased() == "authentication-results" }.map(\.value)
                .filter { Lab.authservID($0) == "test.example" }
        }
        #expect(try ours("up@example.org").first?.contains("dkim=pass header.d=example.com") == true)
        let down = try ours("down@example.org")
        #expect(down.count == 1 && down.first?.contains("dkim=temperror") == true, "\(down)")
    }

    // MARK: 3. Relaying

    @Test func aSignatureMadeAtTheFirstHopSurvivesASecondPostfixThatAddsAHeader() throws {
        try Postfix.requireInstalled()
        let lab = try Lab()
        defer { lab.tearDown() }
        let ports = try Loopback.freePorts(4)
        let sink = try lab.sink(port: ports[0])
        let headerChecks = try lab.write(Array("/^Subject:/ PREPEND X-Relay: relayed by relay.test.example\n".utf8),
                                         name: "header_checks")
        let relay = try lab.postfix("relay", port: ports[1], relayTo: sink.port,
                                    extra: ["header_checks": "regexp:" + headerChecks])
        let milter = try lab.milter(port: ports[2], arguments: ["--keys-dir", lab.keyStore(Self.signingKey)])
        let home = try lab.postfix("home", port: ports[3], relayTo: relay.port, milterPort: milter.port)

        // An 8-bit body, sent with BODY=8BITMIME: every hop announces 8BITMIME, so nobody re-encodes it.
        let message = Lab.crlf("""
            From: Alice <alice@example.com>
            To: Bob <bob@example.org>
            Subject: through two Postfix instances
            Date: Sat, 28 Nov 2026 10:00:00 +0000
            Message-ID: <e2e-relay@example.com>
            MIME-Version: 1.0
            Content-Type: text/plain; charset=utf-8
            Content-Transfer-Encoding: 8bit

            Grüße aus Köln – the body has 8-bit bytes.
            """)
        let replies = try SMTPClient.send(message, from: "alice@example.com", to: "relayed@example.org",
                                          port: home.port)
        #expect(replies.accepted, "\(replies)")

        try home.waitUntilQueueIsEmpty()
        try relay.waitUntilQueueIsEmpty()
        let arrived = try sink.waitForMessages(1)
        let m = try #require(arrived.message(to: "relayed@example.org"),
                             "nothing at the sink: \(home.log)\n\(relay.log)")
        let text = Lab.text(m)
        #expect(text.contains("X-Relay: relayed by relay.test.example\r\n"), "\(text)")
        #expect(text.contains("by relay.test.example (Postfix)") && text.contains("by home.test.example (Postfix)"),
                "\(text)")
        #expect(text.contains("Grüße aus Köln"), "the body was re-encoded: \(text)")
        let file = try lab.write(m, name: "relayed.eml")
        let dkimkey = try ProcessRunner.run(Fixtures.dkimkey, ["verify", "--records", Self.records, file], timeout: 30)
        #expect(dkimkey.status == 0, "\(dkimkey.stdoutText)\(dkimkey.stderr)")
        #expect(dkimkey.stdoutText.contains("[1] d=example.com s=sr2048a a=rsa-sha256: pass"), "\(dkimkey.stdoutText)")
        #expect(try ReferenceVerifier.dkimpy.results(file) == ["pass"])
    }

    // MARK: Milter killed mid-stream

    /// A relay hands mail to the signing Postfix, whose milter is SIGKILLed while messages go
    /// through it: the relay keeps what was refused (451) in its queue and, once the milter is
    /// back, every message arrives, signed. Messages in = messages out.
    @Test func milterKilledMidStreamLosesNothing() throws {
        try Postfix.requireInstalled()
        let lab = try Lab()
        defer { lab.tearDown() }
        let ports = try Loopback.freePorts(4)
        let sink = try lab.sink(port: ports[0])
        let keys = try lab.keyStore(Self.signingKey)
        var milter = try lab.milter(port: ports[1], arguments: ["--keys-dir", keys])
        let signer = try lab.postfix("signer", port: ports[2], relayTo: sink.port, milterPort: milter.port,
                                     extra: ["milter_connect_timeout": "2s", "milter_command_timeout": "2s"])
        let relay = try lab.postfix("relay", port: ports[3], relayTo: signer.port)
        let body = String(repeating: "A line of a large message, so that the milter is killed in the middle of one.\n",
                          count: 2500)
        let count = 12
        let client = try SMTPClient(port: relay.port)
        defer { client.close() }
        for n in 1...count {
            let message = Lab.crlf("""
                From: Alice <alice@example.com>
                To: Bob <bob@example.org>
                Subject: message \(n) of \(count)
                Date: Sat, 28 Nov 2026 10:00:00 +0000
                Message-ID: <e2e-kill-\(n)@example.com>

                \(body)
                """)
            #expect(try client.transaction(message, from: "alice@example.com", to: "r\(n)@example.org").accepted)
            if n == count / 2 { milter.stop() }  // SIGKILL while the relay is handing messages on
        }
        try client.quit()
        // Before the milter comes back, the relay has had a message refused (the kill hit one).
        #expect(relay.logContains("status=deferred", timeout: 60), "the kill did not hit a message: \(relay.log)")
        milter = try lab.milter(port: ports[1], arguments: ["--keys-dir", keys])
        // Retry until everything has gone through (the relay defers what the signer refused).
        let deadline = Date().addingTimeInterval(60)
        while sink.messages().files.count < count && Date() < deadline {
            try relay.flush()
            try signer.flush()
            Thread.sleep(forTimeInterval: 1)
        }
        try relay.waitUntilQueueIsEmpty()
        try signer.waitUntilQueueIsEmpty()
        let arrived = try sink.waitForMessages(count)
        #expect(arrived.files.count == count, "in \(count), out \(arrived.files.count)")
        var paths: [String] = []
        for n in 1...count {
            let m = try #require(arrived.message(to: "r\(n)@example.org"),
                                 "message \(n) lost:\n\(relay.log)\n\(signer.log)")
            paths.append(try lab.write(m, name: "arrived-\(n).eml"))
        }
        let verified = try ProcessRunner.run(Fixtures.dkimkey, ["verify", "--records", Self.records] + paths)
        #expect(verified.status == 0, "not every message arrived with a valid signature:\n\(verified.stdoutText)")
    }

    // MARK: 4. Milter down

    @Test func withTheMilterDownOrHangingPostfixRefusesMailWith451AndNothingPassesUnsigned() throws {
        try Postfix.requireInstalled()
        let lab = try Lab()
        defer { lab.tearDown() }
        let ports = try Loopback.freePorts(3)
        let sink = try lab.sink(port: ports[0])
        let keys = try lab.keyStore(Self.signingKey)
        var milter = try lab.milter(port: ports[1], arguments: ["--keys-dir", keys])
        let postfix = try lab.postfix("a", port: ports[2], relayTo: sink.port, milterPort: milter.port,
                                      extra: ["milter_connect_timeout": "2s", "milter_command_timeout": "2s"])
        func message(_ n: Int) -> [UInt8] {
            Lab.crlf("""
                From: Alice <alice@example.com>
                To: Bob <bob@example.org>
                Subject: message \(n)
                Date: Sat, 28 Nov 2026 10:00:00 +0000
                Message-ID: <e2e-down-\(n)@example.com>

                Hello.
                """)
        }

        // With the milter up, mail passes, signed.
        #expect(try SMTPClient.send(message(1), from: "alice@example.com", to: "up@example.org",
                                    port: postfix.port).accepted)
        try postfix.waitUntilQueueIsEmpty()
        let first = try sink.waitForMessages(1)
        #expect(first.message(to: "up@example.org").map { Lab.text($0).contains("DKIM-Signature: ") } == true)

        // Stopped (killed): the milter cannot be reached, and MAIL FROM gets 451.
        milter.stop()
        let down = try SMTPClient.send(message(2), from: "alice@example.com", to: "down@example.org",
                                       port: postfix.port)
        #expect(down.mail.code == 451, "\(down)")
        #expect(!down.accepted)
        #expect(postfix.logContains("milter-reject: MAIL from unknown[127.0.0.1]: 451 4.7.1"), "\(postfix.log)")

        // Hanging (SIGSTOP): connected but silent, so the command timeout ends it the same way.
        milter = try lab.milter(port: ports[1], arguments: ["--keys-dir", keys])
        milter.process.signal(SIGSTOP)
        let hanging = try SMTPClient.send(message(3), from: "alice@example.com", to: "hanging@example.org",
                                          port: postfix.port)
        milter.process.signal(SIGCONT)
        #expect(hanging.mail.code == 451, "\(hanging)")
        #expect(!hanging.accepted)
        #expect(postfix.logContains("can't read SMFIC_OPTNEG reply packet header"), "\(postfix.log)")

        // Messages 2 and 3 were refused at MAIL FROM and never queued: once the queue is empty,
        // the sink holds all it will ever get.
        try postfix.waitUntilQueueIsEmpty()
        let all = sink.messages()
        #expect(all.files.count == 1, "mail reached the sink while the milter was down: \(all.files.keys.sorted())")
        #expect(all.message(to: "down@example.org") == nil && all.message(to: "hanging@example.org") == nil)
    }
}

// MARK: - The verifiers

/// The three reference implementations, through the interoperability tests' driver scripts.
enum ReferenceVerifier: CaseIterable {
    case dkimpy, maildkim, opendkim

    static let scripts = Fixtures.repositoryRoot + "/Tests/InteropTests/Scripts"

    /// The result of each signature in `file`, topmost first (`pass`, `fail`, `permerror`, `temperror`).
    func results(_ file: String) throws -> [String] {
        let (exe, script) = switch self {
        case .dkimpy: ("/usr/bin/python3", "dkimpy_oracle.py")
        case .maildkim: ("/usr/bin/perl", "maildkim_oracle.pl")
        case .opendkim: ("/usr/bin/python3", "opendkim_oracle.py")
        }
        let r = try ProcessRunner.run(exe, [Self.scripts + "/" + script, "verify", "--records",
                                            PostfixEndToEndTests.records, file], timeout: 60)
        guard r.status == 0 else { return ["error \(r.status): \(r.stderr)"] }
        return r.stdoutText.split(separator: "\n").map { $0.split(separator: " ").dropFirst().joined(separator: " ") }
    }
}

// MARK: - The milter in a Lab

extension Lab {
    func keyStore(_ keys: [(file: String, domain: String, selector: String)]) throws -> String {
        try TestKeyStore.make(in: directory, keys: keys)
    }

    func milter(port: Int, arguments: [String]) throws -> RunningMilter {
        let process = try MilterProcess(arguments: arguments, socket: "inet:\(port)@127.0.0.1")
        onTearDown { process.stop() }
        return RunningMilter(process: process, port: port)
    }
}

struct RunningMilter {
    let process: MilterProcess
    let port: Int
    var log: String { process.log }
    func logContains(_ text: String) -> Bool { process.logContains(text) }
    @discardableResult func stop() -> Int32 { process.stop() }
}

