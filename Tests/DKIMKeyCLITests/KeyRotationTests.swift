import DKIM
import DKIMKeyCheck
import DKIMKeyTool
import DKIMTestSupport
import Foundation
import Testing

/// A DNS zone in memory that a publisher writes to and the rotation reads from.
final class ZoneDouble: RecordPublisher, @unchecked Sendable {
    private let lock = NSLock()
    private var records: [String: String] = [:]
    /// While false, the zone answers SERVFAIL (DNS down).
    var answering = true
    /// While false, changes sent are not applied (an admin who has not pasted yet).
    var applying = true
    var describes: String { "the test zone" }

    func replace(name: String, value: String) throws(ToolError) {
        lock.lock(); defer { lock.unlock() }
        if applying { records[name.lowercased()] = value }
    }

    func delete(name: String) throws(ToolError) {
        lock.lock(); defer { lock.unlock() }
        if applying { records[name.lowercased()] = nil }
    }

    func set(_ name: String, _ value: String?) {
        lock.lock(); defer { lock.unlock() }
        records[name.lowercased()] = value
    }

    func lookup(_ name: String) -> TXTLookupResult {
        lock.lock(); defer { lock.unlock() }
        guard answering else { return .temporaryFailure(reason: "SERVFAIL") }
        return records[name.lowercased()].map { .records([$0]) } ?? .nameNotFound
    }
}

@Suite struct KeyRotationTests {
    static let day = 86400
    static let start = 1_790_000_000  // 2026-09-21

    func rotation(_ dir: String, _ zone: ZoneDouble, at now: Int, publish: Bool = true) -> KeyRotation {
        var options = KeyRotation.Options()
        options.overlap = 7 * Self.day
        options.maxAge = 180 * Self.day
        return KeyRotation(domain: "example.com", keysDirectory: dir, options: options, now: now,
                           lookup: { zone.lookup($0) }, publisher: publish ? zone : nil)
    }

    func states(_ dir: String) throws -> [String: KeyLifecycle] {
        let file = try #require(try KeyStateFile.read(directory: dir + "/example.com", domain: "example.com"))
        return Dictionary(uniqueKeysWithValues: file.entries.map { ($0.selector, $0.state) })
    }

    /// The whole cycle: made and published, active, replaced after the maximum age, retired,
    /// revoked after the overlap (its key out of the signing set), deleted after another.
    @Test func aKeyGoesThroughItsWholeLife() throws {
        try CLI.withTemporaryDirectory { dir in
            let zone = ZoneDouble()
            var lines = try rotation(dir, zone, at: Self.start).run()
            #expect(try states(dir) == ["s202609": .pending])
            #expect(lines.contains { $0.selector == "s202609" && $0.text.contains("Record sent") })
            // DNS serves it now: the next run makes it active.
            lines = try rotation(dir, zone, at: Self.start + 3600).run()
            #expect(try states(dir) == ["s202609": .active])
            // 181 days later: a successor, pending; the old key still active and signing.
            let later = Self.start + 181 * Self.day
            _ = try rotation(dir, zone, at: later).run()
            #expect(try states(dir) == ["s202609": .active, "s202703": .pending])
            let successor = "s202703"
            _ = try rotation(dir, zone, at: later + 3600).run()
            #expect(try states(dir) == ["s202609": .retiring, successor: .active])
            // Within the overlap nothing changes; after it, the old record is revoked.
            _ = try rotation(dir, zone, at: later + 3 * Self.day).run()
            #expect(try states(dir)["s202609"] == .retiring)
            lines = try rotation(dir, zone, at: later + 8 * Self.day).run()
            #expect(try states(dir)["s202609"] == .revoked)
            #expect(zone.lookup("s202609._domainkey.example.com") == .records(["v=DKIM1; p="]))
            #expect(!FileManager.default.fileExists(atPath: dir + "/example.com/s202609.pem"))
            #expect(FileManager.default.fileExists(atPath: dir + "/example.com/retired/s202609.pem"))
            // After another overlap the record is deleted and the entry goes.
            _ = try rotation(dir, zone, at: later + 16 * Self.day).run()
            #expect(try states(dir) == [successor: .active])
            #expect(zone.lookup("s202609._domainkey.example.com") == .nameNotFound)
        }
    }

    /// Publishing delayed (no publisher, the admin has not pasted): nothing switches, and the
    /// status says exactly what to publish.
    @Test func aKeyWaitsForItsRecordAndTheStatusSaysWhatToPublish() throws {
        try CLI.withTemporaryDirectory { dir in
            let zone = ZoneDouble()
            let lines = try rotation(dir, zone, at: Self.start, publish: false).run()
            let made = try #require(lines.first)
            #expect(made.actionNeeded
                    && made.text.contains("Publish TXT s202609._domainkey.example.com: v=DKIM1; k=rsa; p="))
            _ = try rotation(dir, zone, at: Self.start + Self.day, publish: false).run()
            #expect(try states(dir) == ["s202609": .pending])
            let status = try rotation(dir, zone, at: Self.start + Self.day, publish: false).status()
            #expect(status.contains { $0.actionNeeded && $0.text.contains("waiting for its record: publish TXT") })
        }
    }

    /// A mismatched record pasted (truncated p=): named, and the key stays pending.
    @Test func aMismatchedRecordIsNamedAndNothingSwitches() throws {
        try CLI.withTemporaryDirectory { dir in
            let zone = ZoneDouble()
            _ = try rotation(dir, zone, at: Self.start, publish: false).run()
            let txt = try String(contentsOfFile: dir + "/example.com/s202609.txt", encoding: .utf8)
            let value = try #require(txt.split(separator: "\"").dropFirst().first.map(String.init))
            zone.set("s202609._domainkey.example.com", String(value.prefix(200)))
            let lines = try rotation(dir, zone, at: Self.start + 3600, publish: false).run()
            #expect(try states(dir) == ["s202609": .pending])
            #expect(lines.contains { $0.text.contains("mismatched") && $0.text.contains("truncated") }, "\(lines)")
        }
    }

    /// DNS down during a rotation: nothing switches, nothing is lost, the lines say why.
    @Test func dnsDownDuringARotationSwitchesNothing() throws {
        try CLI.withTemporaryDirectory { dir in
            let zone = ZoneDouble()
            _ = try rotation(dir, zone, at: Self.start).run()
            _ = try rotation(dir, zone, at: Self.start + 3600).run()
            let later = Self.start + 181 * Self.day
            _ = try rotation(dir, zone, at: later).run()
            zone.answering = false
            let lines = try rotation(dir, zone, at: later + 3600).run()
            #expect(try states(dir).values.sorted { $0.rawValue < $1.rawValue } == [.active, .pending])
            #expect(lines.contains { $0.text.contains("unknown") }, "\(lines)")
            zone.answering = true
            _ = try rotation(dir, zone, at: later + 7200).run()
            #expect(try states(dir)["s202609"] == .retiring)
        }
    }

    /// A key file the state does not list (a crash after making it) is taken as pending.
    @Test func aKeyTheStateDoesNotListIsPending() throws {
        try CLI.withTemporaryDirectory { dir in
            let zone = ZoneDouble()
            _ = try rotation(dir, zone, at: Self.start).run()
            _ = try rotation(dir, zone, at: Self.start + 3600).run()
            _ = try CLI.run(["generate", "orphan", "--domain", "example.com", "--keys-dir", dir])
            _ = try rotation(dir, zone, at: Self.start + 7200, publish: false).run()
            #expect(try states(dir)["orphan"] == .pending)
        }
    }

    @Test func theStateFileReadsBackWhatWasWritten() throws {
        try CLI.withTemporaryDirectory { dir in
            var file = KeyStateFile(domain: "example.com")
            file["a"] = .init(selector: "a", state: .retiring, since: Self.start, until: Self.start + 7 * Self.day,
                              created: Self.start - Self.day)
            file["b"] = .init(selector: "b", state: .active, since: Self.start)
            try file.write(directory: dir)
            #expect(try KeyStateFile.read(directory: dir, domain: "example.com") == file)
            try "a activ since=2026-01-01T00:00:00Z\n".write(toFile: dir + "/keys.state", atomically: true,
                                                             encoding: .utf8)
            #expect(throws: KeyStateError.self) { try KeyStateFile.read(directory: dir, domain: "example.com") }
        }
    }
}

/// `dkimkey rotate` and `--status` as a timer runs them: the exit code says whether action is needed.
@Suite struct RotateCommandTests {
    @Test func statusExitsOneWhileARecordWaitsToBePastedAndZeroOnceItIsServed() throws {
        try CLI.withTemporaryDirectory { dir in
            let dns = try FakeDNSServer([:])
            defer { dns.stop() }
            let now = String(KeyRotationTests.start)
            let made = try CLI.run(["rotate", "--domain", "example.com", "--keys-dir", dir, "--nameserver", dns.address,
                                    "--now", now])
            #expect(made.status == 1, "\(made.stdoutText)")
            #expect(made.stdoutText.contains("TODO s202609 (pending): made an RSA 2048 key"), "\(made.stdoutText)")
            var status = try CLI.run(["rotate", "--status", "--keys-dir", dir, "--nameserver", dns.address,
                                      "--now", now])
            #expect(status.status == 1, "\(status.stdoutText)")
            #expect(status.stdoutText.contains("example.com:"), "\(status.stdoutText)")
            // The admin pastes the record; the next run activates the key and the status is quiet.
            let record = try String(contentsOfFile: dir + "/example.com/s202609.txt", encoding: .utf8)
            let strings = record.split(separator: "\"").enumerated().filter { $0.offset % 2 == 1 }
                .map { String($0.element) }
            dns.set("s202609._domainkey.example.com", .txt([strings]))
            let activated = try CLI.run(["rotate", "--domain", "example.com", "--keys-dir", dir, "--nameserver",
                                         dns.address, "--now", now])
            #expect(activated.status == 0, "\(activated.stdoutText)")
            status = try CLI.run(["rotate", "--status", "--json", "--keys-dir", dir, "--nameserver", dns.address,
                                  "--now", now])
            #expect(status.status == 0, "\(status.stdoutText)")
            #expect(status.stdoutText.contains("\"state\":\"active\""), "\(status.stdoutText)")
        }
    }
}
