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
/// group, smtp-sink and dkim-milter.
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
        let replies = try SMTPClient.send(message, from: "alice@example.com", to: "smtp@example.org", port: postfix.port)
        #expect(replies.accepted, "\(replies)")

        // The non-SMTP path (sendmail → postdrop → pickup → cleanup) goes through non_smtpd_milters.
        let sendmail = try ProcessRunner.run("/usr/sbin/sendmail", ["-C", postfix.configDirectory, "-i", "-f", "alice@example.com", "sendmail@example.org"],
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
                #expect(try verifier.results(file) == ["pass"], "\(verifier) on \(rcpt): \(String(decoding: m, as: UTF8.self))")
            }
            let dkimkey = try ProcessRunner.run(Fixtures.dkimkey, ["verify", "--records", Self.records, file], timeout: 30)
            #expect(dkimkey.status == 0, "\(dkimkey.stdoutText)\(dkimkey.stderr)")
            #expect(dkimkey.stdoutText.contains("[1] d=example.com s=sr2048a a=rsa-sha256: pass, aligned with From"), "\(dkimkey.stdoutText)")
        }
        #expect(arrived.message(to: "smtp@example.org").map { Lab.text($0).contains("\n.a line that smtp dot-stuffs\r\n") } == true)
        #expect(milter.logContains("signing example.com with s=sr2048a (rsa-sha256): client 127.0.0.1 is internal"), "\(milter.log)")
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
        for (message, rcpt) in [(signed, "pass@example.org"), (tampered, "fail@example.org"), (forged, "forged@example.org")] {
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
            return (ar.filter { Lab.authservID($0) == "test.example" }, ar.filter { Lab.authservID($0) != "test.example" },
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
        let first = try client.transaction(try Fixtures.bytes("corpus/messages/canon-basic-rr.eml"), from: "a@example.com", to: "up@example.org")
        #expect(first.accepted, "\(first)")
        // At least one (with DNSTimeout 1 a loaded machine may send it again).
        #expect(dns.queries(for: "sr2048a._domainkey.example.com") >= 1)
        dns.stop()
        let second = try client.transaction(try Fixtures.bytes("corpus/messages/canon-basic-rs.eml"), from: "a@example.com", to: "down@example.org")
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
        let headerChecks = try lab.write(Array("/^Subject:/ PREPEND X-Relay: relayed by relay.test.example\n".utf8), name: "header_checks")
        let relay = try lab.postfix("relay", port: ports[1], relayTo: sink.port, extra: ["header_checks": "regexp:" + headerChecks])
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
        let replies = try SMTPClient.send(message, from: "alice@example.com", to: "relayed@example.org", port: home.port)
        #expect(replies.accepted, "\(replies)")

        try home.waitUntilQueueIsEmpty()
        try relay.waitUntilQueueIsEmpty()
        let arrived = try sink.waitForMessages(1)
        let m = try #require(arrived.message(to: "relayed@example.org"), "nothing at the sink: \(home.log)\n\(relay.log)")
        let text = Lab.text(m)
        #expect(text.contains("X-Relay: relayed by relay.test.example\r\n"), "\(text)")
        #expect(text.contains("by relay.test.example (Postfix)") && text.contains("by home.test.example (Postfix)"), "\(text)")
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
        let body = String(repeating: "A line of a large message, so that the milter is killed in the middle of one.\n", count: 2500)
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
            let m = try #require(arrived.message(to: "r\(n)@example.org"), "message \(n) lost:\n\(relay.log)\n\(signer.log)")
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
        #expect(try SMTPClient.send(message(1), from: "alice@example.com", to: "up@example.org", port: postfix.port).accepted)
        try postfix.waitUntilQueueIsEmpty()
        let first = try sink.waitForMessages(1)
        #expect(first.message(to: "up@example.org").map { Lab.text($0).contains("DKIM-Signature: ") } == true)

        // Stopped (killed): the milter cannot be reached, and MAIL FROM gets 451.
        milter.stop()
        let down = try SMTPClient.send(message(2), from: "alice@example.com", to: "down@example.org", port: postfix.port)
        #expect(down.mail.code == 451, "\(down)")
        #expect(!down.accepted)
        #expect(postfix.logContains("milter-reject: MAIL from unknown[127.0.0.1]: 451 4.7.1"), "\(postfix.log)")

        // Hanging (SIGSTOP): connected but silent, so the command timeout ends it the same way.
        milter = try lab.milter(port: ports[1], arguments: ["--keys-dir", keys])
        milter.process.signal(SIGSTOP)
        let hanging = try SMTPClient.send(message(3), from: "alice@example.com", to: "hanging@example.org", port: postfix.port)
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
        let r = try ProcessRunner.run(exe, [Self.scripts + "/" + script, "verify", "--records", PostfixEndToEndTests.records, file], timeout: 60)
        guard r.status == 0 else { return ["error \(r.status): \(r.stderr)"] }
        return r.stdoutText.split(separator: "\n").map { $0.split(separator: " ").dropFirst().joined(separator: " ") }
    }
}

// MARK: - The processes of one test

/// What one test starts, in one temporary folder; `tearDown` stops it all (reverse order) and removes the folder.
final class Lab {
    let directory: String
    private var stops: [() -> Void] = []

    init() throws {
        directory = try Fixtures.makeTemporaryDirectory()
        // Postfix's daemons (user postfix) must reach the queue directories below.
        chmod(directory, 0o755)
    }

    func tearDown() {
        for stop in stops.reversed() { stop() }
        stops = []
        // POSTFIX_E2E_KEEP=1 keeps the folder (configurations, maillog, sink dumps) for a look.
        if ProcessInfo.processInfo.environment["POSTFIX_E2E_KEEP"] == nil {
            Fixtures.removeTemporaryDirectory(directory)
        } else {
            FileHandle.standardError.write(Data("PostfixEndToEndTests: kept \(directory)\n".utf8))
        }
    }

    func write(_ bytes: [UInt8], name: String) throws -> String {
        let path = directory + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func keyStore(_ keys: [(file: String, domain: String, selector: String)]) throws -> String {
        try TestKeyStore.make(in: directory, keys: keys)
    }

    func sink(port: Int) throws -> SMTPSink {
        let sink = try SMTPSink(directory: directory + "/sink", port: port)
        stops.append { sink.stop() }
        return sink
    }

    func milter(port: Int, arguments: [String]) throws -> RunningMilter {
        let process = try MilterProcess(arguments: arguments, socket: "inet:\(port)@127.0.0.1")
        stops.append { process.stop() }
        return RunningMilter(process: process, port: port)
    }

    func postfix(_ name: String, port: Int, relayTo next: Int, milterPort: Int? = nil, extra: [String: String] = [:]) throws -> Postfix {
        var settings = extra
        if let milterPort {
            settings["smtpd_milters"] = "inet:127.0.0.1:\(milterPort)"
            settings["non_smtpd_milters"] = "inet:127.0.0.1:\(milterPort)"
            settings["milter_default_action"] = "tempfail"
        }
        let postfix = try Postfix(directory: directory + "/postfix-" + name, name: name, port: port, relayhost: "[127.0.0.1]:\(next)", settings: settings)
        stops.append { postfix.stop() }
        try postfix.start()
        return postfix
    }

    // Message helpers.

    /// LF text as CRLF lines, ending with CRLF.
    static func crlf(_ text: String) -> [UInt8] {
        let t = text.replacingOccurrences(of: "\n", with: "\r\n")
        return Array((t.hasSuffix("\r\n") ? t : t + "\r\n").utf8)
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    static func replacingFirst(_ old: String, with new: String, in bytes: [UInt8]) throws -> [UInt8] {
        let o = Array(old.utf8)
        let end = bytes.count - o.count
        guard end >= 0, let i = (0...end).first(where: { Array(bytes[$0..<$0 + o.count]) == o }) else {
            throw SMTPClient.Failure("\(old) not in the message")
        }
        return Array(bytes[..<i]) + Array(new.utf8) + Array(bytes[(i + o.count)...])
    }

    /// The header fields of a CRLF message, unfolded (CRLF before white space removed), value trimmed.
    static func headerFields(_ message: [UInt8]) -> [(name: String, value: String)] {
        let text = Self.text(message)
        let head = text.components(separatedBy: "\r\n\r\n").first ?? ""
        var fields: [(name: String, value: String)] = []
        for line in head.components(separatedBy: "\r\n") {
            if let first = line.first, first == " " || first == "\t", !fields.isEmpty {
                fields[fields.count - 1].value += line
            } else if let colon = line.firstIndex(of: ":") {
                fields.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
            }
        }
        return fields.map { ($0.name, $0.value.trimmingCharacters(in: .whitespaces)) }
    }

    /// The authserv-id of an Authentication-Results value, lowercased.
    static func authservID(_ value: String) -> String {
        let id = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return (id.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(String.init) ?? "").lowercased()
    }
}

struct RunningMilter {
    let process: MilterProcess
    let port: Int
    var log: String { process.log }
    func logContains(_ text: String) -> Bool { process.logContains(text) }
    @discardableResult func stop() -> Int32 { process.stop() }
}

// MARK: - Ports

enum Loopback {
    /// `count` distinct ports on 127.0.0.1 that were free a moment ago (bound to port 0, read back, closed).
    static func freePorts(_ count: Int) throws -> [Int] {
        var sockets: [Int32] = []
        defer { for s in sockets { close(s) } }
        var ports: [Int] = []
        for _ in 0..<count {
            // Kept open until all are read, so the ports differ.
            guard let (s, port) = LoopbackSocket.bound(.tcp) else {
                throw SMTPClient.Failure("socket/bind: \(String(cString: strerror(errno)))")
            }
            sockets.append(s)
            ports.append(port)
        }
        return ports
    }

    /// Connects to 127.0.0.1:`port`; the socket, or nil when nothing listens.
    static func connect(_ port: Int, timeout: Int = 30) -> Int32? {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { return nil }
        var address = LoopbackSocket.address(port: port)
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard ok else { close(s); return nil }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return s
    }

    /// Waits (bounded) until something accepts connections on `port`; `alive` is asked between tries.
    static func waitUntilListening(_ port: Int, timeout: TimeInterval = 20, alive: () -> Bool = { true }) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let s = connect(port, timeout: 2) { close(s); return true }
            if !alive() { return false }
            usleep(50_000)
        }
        return false
    }
}

// MARK: - A small SMTP client

/// Sends messages over SMTP (EHLO, BODY=8BITMIME, dot-stuffing), keeping every reply.
final class SMTPClient {
    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    struct Reply: CustomStringConvertible {
        var code: Int
        var text: String
        var description: String { text }
    }

    /// The replies of one transaction; `rcpt` and `data` are nil when an earlier step was refused.
    struct Transaction: CustomStringConvertible {
        var mail: Reply
        var rcpt: Reply?
        var data: Reply?
        var accepted: Bool { mail.code == 250 && rcpt?.code == 250 && data?.code == 250 }
        var description: String { "MAIL: \(mail) RCPT: \(rcpt?.text ?? "-") DATA: \(data?.text ?? "-")" }
    }

    private let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int) throws {
        guard let fd = Loopback.connect(port) else { throw Failure("cannot connect to 127.0.0.1:\(port)") }
        self.fd = fd
        let greeting = try reply()
        guard greeting.code == 220 else { close(); throw Failure("greeting: \(greeting)") }
        let ehlo = try command("EHLO client.test.example")
        guard ehlo.code == 250 else { close(); throw Failure("EHLO: \(ehlo)") }
    }

    private var closed = false
    func close() {
        if !closed { Glibc.close(fd); closed = true }
    }

    deinit { close() }

    /// One message in a session of its own.
    static func send(_ message: [UInt8], from: String, to: String, port: Int) throws -> Transaction {
        let c = try SMTPClient(port: port)
        defer { c.close() }
        let t = try c.transaction(message, from: from, to: to)
        try? c.quit()
        return t
    }

    /// MAIL, RCPT, DATA for one CRLF message; after a refusal, RSET.
    func transaction(_ message: [UInt8], from: String, to: String) throws -> Transaction {
        var t = Transaction(mail: try command("MAIL FROM:<\(from)> BODY=8BITMIME"))
        guard t.mail.code == 250 else { _ = try? command("RSET"); return t }
        t.rcpt = try command("RCPT TO:<\(to)>")
        guard t.rcpt?.code == 250 else { _ = try? command("RSET"); return t }
        let data = try command("DATA")
        guard data.code == 354 else { t.data = data; _ = try? command("RSET"); return t }
        var out: [UInt8] = []
        var lineStart = true
        for b in message {
            if lineStart && b == UInt8(ascii: ".") { out.append(b) }
            out.append(b)
            lineStart = b == UInt8(ascii: "\n")
        }
        if !out.isEmpty && !lineStart { out += Array("\r\n".utf8) }
        out += Array(".\r\n".utf8)
        try write(out)
        t.data = try reply()
        return t
    }

    func quit() throws { _ = try command("QUIT") }

    func command(_ line: String) throws -> Reply {
        try write(Array((line + "\r\n").utf8))
        return try reply()
    }

    private func write(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure("send: \(String(cString: strerror(errno)))") }
            sent += n
        }
    }

    /// One reply, all its lines (`250-…` continued, `250 …` last).
    private func reply() throws -> Reply {
        var lines: [String] = []
        while true {
            let line = try readLine()
            lines.append(line)
            let bytes = Array(line.utf8)
            if bytes.count < 4 || bytes[3] != UInt8(ascii: "-") { break }
        }
        let last = lines.last ?? ""
        return Reply(code: Int(last.prefix(3)) ?? 0, text: lines.joined(separator: " | "))
    }

    private func readLine() throws -> String {
        while true {
            if let i = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(buffer[..<i])
                buffer.removeFirst(i + 1)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw Failure(n == 0 ? "the server closed the connection" : "recv: \(String(cString: strerror(errno)))") }
            buffer += chunk[..<n]
        }
    }
}

// MARK: - smtp-sink

/// Postfix's smtp-sink, writing each transaction to a file of its own.
final class SMTPSink {
    struct Arrived {
        /// Dump file → message with CRLF line ends (smtp-sink's X- and Received lines kept on top).
        var files: [String: [UInt8]]

        /// The message whose envelope recipient was `rcpt` (smtp-sink's `X-Rcpt-Args` line).
        func message(to rcpt: String) -> [UInt8]? {
            files.values.first { Lab.text($0).contains("X-Rcpt-Args: <\(rcpt)>") }
        }
    }

    let directory: String
    let port: Int
    private var process: SpawnedProcess?

    init(directory: String, port: Int) throws {
        self.directory = directory
        self.port = port
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chown(directory, Postfix.user.uid, Postfix.user.gid)
        let process = try SpawnedProcess("/usr/sbin/smtp-sink", ["-u", "postfix", "-d", directory + "/%H%M%S.", "127.0.0.1:\(port)", "16"],
                                  output: directory + ".log")
        self.process = process
        guard Loopback.waitUntilListening(port, alive: { process.isRunning }) else {
            stop()
            throw SMTPClient.Failure("smtp-sink did not start: \((try? String(contentsOfFile: directory + ".log", encoding: .utf8)) ?? "")")
        }
    }

    func messages() -> Arrived {
        var files: [String: [UInt8]] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            guard let data = FileManager.default.contents(atPath: directory + "/" + name) else { continue }
            // smtp-sink writes LF line ends; DKIM is computed over CRLF.
            var crlf: [UInt8] = []
            crlf.reserveCapacity(data.count + data.count / 40)
            for b in data {
                if b == UInt8(ascii: "\n") { crlf.append(UInt8(ascii: "\r")) }
                crlf.append(b)
            }
            files[name] = crlf
        }
        return Arrived(files: files)
    }

    /// Waits (bounded) until `count` dumps are there and complete (each ends with the extra empty line).
    func waitForMessages(_ count: Int, timeout: TimeInterval = 20) throws -> Arrived {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let m = messages()
            if m.files.count >= count && m.files.values.allSatisfy({ $0.suffix(4) == Array("\r\n\r\n".utf8) }) { return m }
            if Date() > deadline {
                throw SMTPClient.Failure("the sink has \(m.files.count) of \(count) messages after \(Int(timeout)) s")
            }
            usleep(50_000)
        }
    }

    func stop() { process?.stop(); process = nil }
}

// MARK: - Postfix

/// One Postfix instance: its own config, queue and data directories, one smtpd on 127.0.0.1,
/// relaying everything to `relayhost`. `master` runs in the foreground in a session of its own.
final class Postfix {
    static let user: (uid: uid_t, gid: gid_t) = {
        guard let pw = getpwnam("postfix") else { return (0, 0) }
        return (pw.pointee.pw_uid, pw.pointee.pw_gid)
    }()

    static let daemonDirectory: String = {
        let r = try? ProcessRunner.run("/usr/sbin/postconf", ["-dh", "daemon_directory"], timeout: 30)
        let d = r?.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return d.isEmpty ? "/usr/lib/postfix/sbin" : d
    }()

    static func requireInstalled() throws {
        guard getuid() == 0 else {
            throw SMTPClient.Failure("Postfix's master must run as root: run the tests as root (contrib/test.sh)")
        }
        for tool in ["/usr/sbin/postfix", "/usr/sbin/smtp-sink", "/usr/bin/script"] where !FileManager.default.isExecutableFile(atPath: tool) {
            throw SMTPClient.Failure("\(tool) is missing: run contrib/setup.sh (it installs postfix with no system-wide configuration)")
        }
    }

    let directory: String
    let name: String
    let port: Int
    var configDirectory: String { directory + "/etc" }
    var queueDirectory: String { directory + "/queue" }
    var logFile: String { directory + "/maillog" }
    private var master: SpawnedProcess?

    init(directory: String, name: String, port: Int, relayhost: String, settings: [String: String]) throws {
        self.directory = directory
        self.name = name
        self.port = port
        let fm = FileManager.default
        for d in [directory, configDirectory, queueDirectory, directory + "/data"] {
            try fm.createDirectory(atPath: d, withIntermediateDirectories: true)
            chmod(d, 0o755)
        }
        chown(directory + "/data", Self.user.uid, Self.user.gid)

        var main: [(String, String)] = [
            ("compatibility_level", "3.6"),
            ("queue_directory", queueDirectory),
            ("data_directory", directory + "/data"),
            ("myhostname", "\(name).test.example"),
            ("syslog_name", "postfix-\(name)"),
            ("maillog_file_prefixes", directory),
            ("maillog_file", logFile),
            ("inet_interfaces", "127.0.0.1"),
            ("inet_protocols", "ipv4"),
            ("mydestination", ""),
            ("local_recipient_maps", ""),
            ("alias_maps", ""),
            ("alias_database", ""),
            ("mynetworks", "127.0.0.0/8"),
            ("smtpd_relay_restrictions", "permit_mynetworks, reject"),
            ("smtpd_peername_lookup", "no"),
            ("smtpd_tls_security_level", "none"),
            ("smtp_tls_security_level", "none"),
            ("enable_long_queue_ids", "yes"),
            ("in_flow_delay", "0"),
            ("relayhost", relayhost),
        ]
        for (k, v) in settings.sorted(by: { $0.key < $1.key }) { main.append((k, v)) }
        try main.map { "\($0.0) = \($0.1)\n" }.joined().write(toFile: configDirectory + "/main.cf", atomically: true, encoding: .utf8)

        // One smtpd on our port and the internal services, none chrooted.
        let services = [
            "127.0.0.1:\(port) inet n - n - - smtpd",
            "pickup unix n - n 60 1 pickup",
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "rewrite unix - - n - - trivial-rewrite",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
            "verify unix - - n - 1 verify",
            "flush unix n - n 1000? 0 flush",
            "proxymap unix - - n - - proxymap",
            "smtp unix - - n - - smtp",
            "relay unix - - n - - smtp",
            "showq unix n - n - - showq",
            "error unix - - n - - error",
            "retry unix - - n - - error",
            "discard unix - - n - - discard",
            "anvil unix - - n - 1 anvil",
            "scache unix - - n - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd",
        ]
        try (services.joined(separator: "\n") + "\n").write(toFile: configDirectory + "/master.cf", atomically: true, encoding: .utf8)

        // `postfix check` makes the queue subdirectories; it speaks only to a terminal, hence script(1).
        let check = try ProcessRunner.run("/usr/bin/script", ["-qec", "/usr/sbin/postfix -c '\(configDirectory)' check", "/dev/null"], timeout: 60)
        let output = check.stdoutText + check.stderr
        guard check.status == 0, !output.contains("fatal:") else {
            throw SMTPClient.Failure("postfix check failed (\(check.status)): \(output)")
        }
    }

    /// Starts `master -d` in a new session (it leads its own process group, as its SIGTERM handling
    /// needs) and waits until the SMTP port answers.
    func start() throws {
        let master = try SpawnedProcess(Self.daemonDirectory + "/master", ["-c", configDirectory, "-d"], output: directory + "/master.out")
        self.master = master
        guard Loopback.waitUntilListening(port, alive: { master.isRunning }) else {
            stop()
            throw SMTPClient.Failure("Postfix \(name) did not start: \(masterOutput)\n\(log)")
        }
    }

    /// SIGTERM to master (SIGKILL after 15 s), then waits for the rest of its process group (master
    /// signals it) and ends what is left of it by PID.
    func stop() {
        guard let master else { return }
        self.master = nil
        master.stop(timeout: 15)
        let deadline = Date().addingTimeInterval(5)
        var left = Self.processes(inGroup: master.pid)
        while !left.isEmpty && Date() < deadline {
            usleep(50_000)
            left = Self.processes(inGroup: master.pid)
        }
        for p in left { kill(p, SIGKILL) }
    }

    /// The live (not zombie) processes whose process group is `group`, from /proc.
    static func processes(inGroup group: pid_t) -> [pid_t] {
        var found: [pid_t] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let p = pid_t(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                  let paren = stat.lastIndex(of: ")") else { continue }
            // After "(comm)": state ppid pgrp …
            let fields = stat[stat.index(after: paren)...].split(separator: " ")
            if fields.count > 2, fields[0] != "Z", pid_t(fields[2]) == group { found.append(p) }
        }
        return found
    }

    var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }
    var masterOutput: String { (try? String(contentsOfFile: directory + "/master.out", encoding: .utf8)) ?? "" }

    /// Waits (up to `timeout` seconds) until the log holds `text`; postlogd writes it a little later.
    func logContains(_ text: String, timeout: TimeInterval = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !log.contains(text) && Date() < deadline { usleep(50_000) }
        return log.contains(text)
    }

    /// The files in the queues that hold mail not yet delivered.
    var queuedFiles: [String] {
        ["maildrop", "incoming", "active", "deferred", "hold"].flatMap { q -> [String] in
            let root = queueDirectory + "/" + q
            guard let e = FileManager.default.enumerator(atPath: root) else { return [] }
            return e.compactMap { $0 as? String }.filter { path in
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &isDirectory) && !isDirectory.boolValue
            }.map { q + "/" + $0 }
        }
    }

    /// Asks qmgr to retry deferred mail now (otherwise it waits minimal_backoff_time).
    func flush() throws {
        _ = try ProcessRunner.run("/usr/sbin/postqueue", ["-c", configDirectory, "-f"], timeout: 30)
    }

    /// Waits (bounded) until every queue is empty; throws with the log when mail stays.
    func waitUntilQueueIsEmpty(timeout: TimeInterval = 30) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !queuedFiles.isEmpty {
            if Date() > deadline {
                throw SMTPClient.Failure("Postfix \(name) still holds \(queuedFiles) after \(Int(timeout)) s:\n\(log)")
            }
            usleep(50_000)
        }
    }

    deinit { stop() }
}

// MARK: - Spawning

