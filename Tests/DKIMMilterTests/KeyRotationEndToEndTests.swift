import DKIM
import DKIMDNS
import DKIMKeyCheck
import DKIMTestSupport
import Foundation
import Glibc
import MilterClient
import Testing

/// A whole rotation against a real authoritative DNS server (BIND 9 with RFC 2136 updates and a
/// TSIG key), driven by `dkimkey rotate --now` (an injected clock), while dkim-milter runs and
/// mail flows through it the whole time.
@Suite(.serialized) struct KeyRotationEndToEndTests {
    static let dkimpy = Fixtures.repositoryRoot + "/Tests/InteropTests/Scripts/dkimpy_oracle.py"
    static let day = 86400
    static let t0 = 1_790_000_000  // 2026-09-21: the first key is s202609, its successor s202703

    final class Mail: @unchecked Sendable {
        struct Signed { var selector: String?; var message: [UInt8]; var record: String? }
        let lock = NSLock()
        var signed: [Signed] = []
        var running = true
        var stopped: Bool { lock.lock(); defer { lock.unlock() }; return !running }
        func add(_ s: Signed) { lock.lock(); signed.append(s); lock.unlock() }
        var all: [Signed] { lock.lock(); defer { lock.unlock() }; return signed }
    }

    static func rotate(_ bind: BINDServer, keys: String, at time: Int,
                       extra: [String] = []) throws -> ProcessRunner.Result {
        try ProcessRunner.run(Fixtures.dkimkey, ["rotate", "--domain", "example.test", "--keys-dir", keys,
                                                 "--publish", "nsupdate", "--server", bind.address,
                                                 "--tsig-key", bind.keyFile, "--nameserver", bind.address,
                                                 "--now", String(time)] + extra, timeout: 120)
    }

    static func state(_ keys: String) throws -> [String: KeyLifecycle] {
        let file = try #require(try KeyStateFile.read(directory: keys + "/example.test", domain: "example.test"))
        return Dictionary(uniqueKeysWithValues: file.entries.map { ($0.selector, $0.state) })
    }

    @Test func aFullRotationWhileMailFlowsNeverSignsWithAnUnpublishedKey() throws {
        let bind = try BINDServer(zones: [BINDServer.Zone("example.test")])
        defer { bind.stop() }
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let keys = dir + "/keys"
        try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
        let dns = try DNSClient(nameserver: bind.address, timeout: 2, tries: 1)

        // The first key: made and published, then active.
        var r = try Self.rotate(bind, keys: keys, at: Self.t0)
        #expect(r.status == 0, "\(r.stdoutText) \(r.stderr)")
        r = try Self.rotate(bind, keys: keys, at: Self.t0 + 3600)
        #expect(try Self.state(keys) == ["s202609": .active], "\(r.stdoutText)")

        try """
            Mode             s
            KeysDirectory    \(keys)
            Nameservers      \(bind.address)
            DNSTimeout       1
            KeyCheckInterval 1
            """.write(toFile: dir + "/c.conf", atomically: true, encoding: .utf8)
        let milter = try MilterProcess(arguments: ["--config", dir + "/c.conf"], socket: "unix:\(dir)/m.sock")
        defer { milter.stop() }

        // Mail from an internal host, all the time; each signature with the record DNS served then.
        let mail = Mail()
        let sender = Thread {
            let message = Array("From: a@example.test\r\nTo: b@example.org\r\nSubject: rotation\r\n\r\nbody\r\n".utf8)
            while !mail.stopped {
                let result: MilterConnection.Result
                do {
                    let c = try MilterConnection(socket: milter.socket)
                    try c.negotiate()
                    _ = try c.connect(hostname: "localhost", address: "127.0.0.1")
                    result = try c.send(message: message)
                } catch {
                    usleep(50_000)
                    continue
                }
                let selector = result.modifications.compactMap { m -> String? in
                    guard case .insertHeader(_, "DKIM-Signature", let v) = m else { return nil }
                    return v.split(separator: ";").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                        .first { $0.hasPrefix("s=") }.map { String($0.dropFirst(2)) }
                }.first
                var record: String?
                if let selector, case .records(let list) = dns.lookupTXT("\(selector)._domainkey.example.test") {
                    record = list.first
                }
                mail.add(.init(selector: selector, message: result.message, record: record))
                usleep(30_000)
            }
        }
        sender.start()
        defer { mail.lock.lock(); mail.running = false; mail.lock.unlock() }
        func waitForMail(_ count: Int) {
            let deadline = Date().addingTimeInterval(60)
            let start = mail.all.count
            while mail.all.count < start + count && Date() < deadline { usleep(20_000) }
        }
        waitForMail(10)

        // 181 days on: the successor is made and published; the milter switches by itself.
        let later = Self.t0 + 181 * Self.day
        r = try Self.rotate(bind, keys: keys, at: later)
        #expect(try Self.state(keys) == ["s202609": .active, "s202703": .pending], "\(r.stdoutText) \(r.stderr)")
        #expect(milter.logContains("example.test: now signing with s=s202703 (was s=s202609)"), "\(milter.log)")
        waitForMail(10)
        r = try Self.rotate(bind, keys: keys, at: later + 3600)
        #expect(try Self.state(keys) == ["s202609": .retiring, "s202703": .active], "\(r.stdoutText)")
        waitForMail(10)
        // After the overlap: the old record revoked, its key out of the signing set.
        r = try Self.rotate(bind, keys: keys, at: later + 8 * Self.day)
        #expect(try Self.state(keys) == ["s202609": .revoked, "s202703": .active], "\(r.stdoutText) \(r.stderr)")
        #expect(dns.lookupTXT("s202609._domainkey.example.test") == .records(["v=DKIM1; p="]))
        waitForMail(10)
        // After another: deleted.
        r = try Self.rotate(bind, keys: keys, at: later + 16 * Self.day)
        #expect(try Self.state(keys) == ["s202703": .active], "\(r.stdoutText)")
        #expect(dns.lookupTXT("s202609._domainkey.example.test") == .nameNotFound)
        waitForMail(10)
        mail.lock.lock(); mail.running = false; mail.lock.unlock()
        while sender.isExecuting { usleep(10_000) }

        let all = mail.all
        let bySelector = Dictionary(grouping: all, by: { $0.selector ?? "unsigned" })
        print("rotation: \(all.count) messages; "
            + "by selector: \(bySelector.mapValues(\.count).sorted { $0.key < $1.key })")
        #expect(bySelector["unsigned"] == nil, "\(bySelector["unsigned"]?.count ?? 0) messages were not signed")
        #expect((bySelector["s202609"]?.count ?? 0) >= 10 && (bySelector["s202703"]?.count ?? 0) >= 30,
                "\(bySelector.mapValues(\.count))")
        // Never signed with a selector whose record was not served at that moment, and never with
        // the old key once the new one signed.
        for m in all {
            #expect(m.record?.hasPrefix("v=DKIM1; k=rsa; p=MII") == true,
                    "\(m.selector ?? "-"): record \(m.record ?? "none")")
        }
        let firstNew = all.firstIndex { $0.selector == "s202703" } ?? all.count
        #expect(!all[firstNew...].contains { $0.selector == "s202609" }, "the old key signed after the switch")
        // Every signature verifies with dkimpy against the record DNS served when it was made.
        for (selector, group) in bySelector {
            let files = try group.enumerated().map { i, m -> String in
                let path = "\(dir)/\(selector)-\(i).eml"
                try Data(m.message).write(to: URL(fileURLWithPath: path))
                return path
            }
            let record = try #require(group.first?.record)
            try "\(selector)._domainkey.example.test\t\(record)\n".write(toFile: dir + "/\(selector).records",
                                                                         atomically: true, encoding: .utf8)
            let v = try ProcessRunner.run("/usr/bin/python3", [Self.dkimpy, "verify", "--records",
                                                               dir + "/\(selector).records"] + files, timeout: 300)
            let results = v.stdoutText.split(separator: "\n").map {
                $0.split(separator: "\t").last.map(String.init) ?? ""
            }
            #expect(results.count == files.count && results.allSatisfy { $0 == "pass" }, "\(selector): \(v.stdoutText)")
        }
    }

    /// SIGKILL of `dkimkey rotate` at each step that changes DNS: the state file is the old or the
    /// new state, never torn, and the next run continues to where it was going.
    @Test(arguments: ["publish", "revoke", "delete"])
    func aRotateKilledAtAnyStepLeavesAStateTheNextRunContinues(_ step: String) throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let keys = dir + "/keys"
        let zone = dir + "/zone"
        try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: zone, withIntermediateDirectories: true)
        // A "DNS provider" command: keeps records as files, and kills its caller on the chosen step
        // once (the first time it is asked to do it).
        let script = dir + "/provider.sh"
        try """
            #!/bin/sh
            action="$1"; name="$2"; value="$3"
            if [ "$action" = "\(step)" ] && [ ! -e "\(dir)/killed" ]; then touch "\(dir)/killed"\
            ; kill -9 $PPID; exit 0; fi
            case "$action" in
              publish|revoke) printf '%s\\n' "$value" > "\(zone)/$name" ;;
              delete) rm -f "\(zone)/$name" ;;
            esac
            """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let dns = try FakeZoneDirectory(zone)
        defer { dns.stop() }
        func run(_ time: Int) throws -> ProcessRunner.Result {
            try ProcessRunner.run(Fixtures.dkimkey, ["rotate", "--domain", "example.test", "--keys-dir", keys,
                                                     "--publish-command", script, "--nameserver", dns.server.address,
                                                     "--now", String(time)], timeout: 120)
        }
        let times = [Self.t0, Self.t0 + 3600, Self.t0 + 181 * Self.day, Self.t0 + 181 * Self.day + 3600,
                     Self.t0 + 189 * Self.day, Self.t0 + 197 * Self.day]
        var killed = 0
        for t in times {
            var r = try run(t)
            if r.status == -9 || r.status == 137 || r.status == 9 || (r.status != 0 && r.status != 1) {
                killed += 1
                // Whatever state is on disk reads back whole.
                #expect(throws: Never.self) { _ = try KeyStateFile.read(directory: keys + "/example.test",
                                                                       domain: "example.test") }
                r = try run(t)
            }
            #expect(r.status == 0 || r.status == 1, "\(r.stdoutText) \(r.stderr)")
        }
        #expect(killed == 1, "the \(step) step was never reached")
        #expect(try Self.state(keys) == ["s202703": .active], "the rotation did not complete after the kill")
    }
}

/// A loopback DNS server answering TXT from the files of a directory (one file per name), so a
/// shell command can act as a DNS provider. The directory is read before each answer: a record the
/// command has just written is served at once (a polling reader lagged behind under load).
final class FakeZoneDirectory: @unchecked Sendable {
    let server: FakeDNSServer
    private let directory: String
    private let lock = NSLock()
    private var known = Set<String>()

    init(_ directory: String) throws {
        self.directory = directory
        server = try FakeDNSServer([:])
        server.beforeEachAnswer { [weak self] in self?.read() }
    }

    private func read() {
        lock.withLock {
            let names = Set((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            for name in names {
                let text = ((try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)) ?? "")
                    .trimmingCharacters(in: .newlines)
                server.set(name, .txt([KeyRecordText(text).strings]))
            }
            for gone in known.subtracting(names) { server.set(gone, .nxdomain) }
            known = names
        }
    }

    func stop() { server.stop() }
}

/// A record's text cut into character-strings of at most 255 bytes.
struct KeyRecordText {
    let strings: [String]
    init(_ text: String) {
        let bytes = Array(text.utf8)
        strings = stride(from: 0, to: max(bytes.count, 1), by: 255).map {
            String(decoding: bytes[$0..<min($0 + 255, bytes.count)], as: UTF8.self)
        }
    }
}
