import DKIM
import DKIMDNS
import DKIMKeyCheck
import DKIMPolicy
import DKIMTestSupport
import Foundation
import Testing

/// `dkimkey doctor` on every test zone of `Tests/Fixtures/doctor/zones`, served by a real DNS
/// server (dnsmasq on loopback): the findings each zone is meant to show, the exit code, and, for
/// every address a zone lists, check_host() as pyspf computes it equal to ours.
@Suite("dkimkey doctor on the test zones", .doctorZones)
struct DoctorZoneTests {
    static let scenarios = (try? DoctorScenario.all()) ?? []

    @Test func everyZoneLoads() throws {
        let all = try DoctorScenario.all()
        #expect(all.count >= 17)
        for s in all {
            #expect(!s.arguments.isEmpty && !s.expectations.isEmpty, "\(s.name) has no $doctor or $expect")
        }
    }

    @Test(arguments: scenarios)
    func theDoctorFindsWhatTheZoneShows(_ scenario: DoctorScenario) throws {
        let zones = try DoctorZones.shared()
        let r = try zones.doctor(scenario)
        #expect(r.endedNormally, "\(r.summary)")
        #expect(r.status == scenario.exitCode,
                "\(scenario.name): exit \(r.status), expected \(scenario.exitCode)\n\(r.stdoutText)")
        let blocks = DoctorOutput(r.stdoutText)
        for e in scenario.expectations {
            #expect(blocks.contains(e),
                    "\(scenario.name): no \(e.status) \(e.check) with \"\(e.text)\" in:\n\(r.stdoutText)")
        }
    }

    /// pyspf and our check_host() against the same dnsmasq, for every `$spf` line of every zone.
    @Test func pyspfAgreesWithOurCheckHostOnEveryZone() throws {
        let zones = try DoctorZones.shared()
        let checks = Self.scenarios.flatMap(\.spfChecks)
        #expect(checks.count >= 40)
        let input = checks.map { "\($0.ip) \($0.domain)\n" }.joined()
        let script = Fixtures.repositoryRoot + "/Tests/DKIMKeyCLITests/Scripts/pyspf_check.py"
        let py = try ProcessRunner.run("/usr/bin/python3", [script, "\(zones.server.port)"], input: Array(input.utf8),
                                       timeout: 120)
        #expect(py.status == 0, "\(py.summary)")
        let oracle = py.stdoutText.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        try #require(oracle.count == checks.count, "pyspf answered \(oracle.count) of \(checks.count): \(py.summary)")
        let client = try DNSClient(nameserver: zones.server.address, timeout: 2, tries: 2)
        let evaluator = SPFEvaluator(resolver: CachingDNSResolver(client: client))
        for (check, answer) in zip(checks, oracle) {
            let ours = evaluator.checkHost(IPAddress(check.ip), domain: check.domain)
            #expect(answer[2] == check.result,
                    "pyspf: \(check.ip) \(check.domain) gives \(answer[2]), the zone says \(check.result)")
            #expect(ours.result.rawValue == answer[2],
                    "\(check.ip) \(check.domain): ours \(ours.result) (\(ours.reason)), pyspf \(answer[2])")
        }
    }

    /// The same results from the in-memory zones (the unit tests' resolver) as from dnsmasq.
    @Test func theInMemoryZonesGiveTheSameResults() throws {
        let records = try DoctorScenario.allRecords()
        for check in Self.scenarios.flatMap(\.spfChecks) {
            let e = SPFEvaluator(resolver: records).checkHost(IPAddress(check.ip), domain: check.domain)
            #expect(e.result.rawValue == check.result, "\(check.ip) \(check.domain): \(e.result) (\(e.reason))")
        }
    }

    /// Keys `dkimkey rotate` retired or revoked are not judged (their record is revoked on purpose);
    /// the age of a key it made comes from keys.state.
    @Test func keysThatRotateRetiredAreNotJudged() throws {
        let zones = try DoctorZones.shared()
        let keys = zones.directory + "/rotated-keys"
        let folder = keys + "/home-after.test"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: zones.keysDirectory + "/home-after.test/mail2026.pem",
                                         toPath: folder + "/mail2026.pem")
        try FileManager.default.copyItem(atPath: folder + "/mail2026.pem", toPath: folder + "/old2025.pem")
        let made = Int(Date().timeIntervalSince1970) - 200 * 86_400
        try KeyStateFile(domain: "home-after.test", entries: [
            .init(selector: "old2025", state: .revoked, since: made),
            .init(selector: "mail2026", state: .active, since: made, created: made),
        ]).write(directory: folder)
        let r = try zones.doctor(try DoctorScenario.load("seed-after"), keys: keys)
        #expect(r.status == 0, "\(r.summary)")
        #expect(!r.stdoutText.contains("old2025"), "\(r.stdoutText)")
        #expect(r.stdoutText.contains("is 200 days old")
                    && r.stdoutText.contains("dkimkey rotate --domain home-after.test"),
                "\(r.stdoutText)")
    }

    @Test func theJSONReportHasEveryFinding() throws {
        let zones = try DoctorZones.shared()
        let scenario = try DoctorScenario.load("seed-before")
        let r = try zones.doctor(scenario, extra: ["--json"])
        #expect(r.status == 1, "\(r.summary)")
        let object = try #require(try r.jsonLines().first)
        #expect(object["domain"] as? String == "home-before.test")
        #expect(object["passed"] as? Bool == false)
        let findings = try #require(object["findings"] as? [[String: Any]])
        let relay = try #require(findings.first { $0["check"] as? String == "relay" })
        #expect(relay["status"] as? String == "fail" && relay["area"] as? String == "spf")
        let publish = try #require(relay["publish"] as? [String: Any])
        #expect(publish["value"] as? String == "v=spf1 a include:isp.test -all")
        let receivers = try #require(object["receivers"] as? [[String: Any]])
        #expect(receivers.map { $0["receiver"] as? String } == ["Gmail", "Yahoo", "Microsoft"])
        #expect(receivers.allSatisfy { $0["spf"] as? String == "missing" && $0["dkim"] as? String == "ok" })
        #expect((object["queries"] as? Int ?? 0) > 0)
    }
}

/// The doctor's text output as blocks: a finding line (OK/WARN/FAIL check: …) with the indented
/// lines under it, and the receivers' rows.
struct DoctorOutput {
    var blocks: [(status: String, check: String, text: String)] = []

    init(_ text: String) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if let status = ["OK  ", "WARN", "FAIL"].first(where: { line.hasPrefix($0 + " ") }) {
                let rest = line.dropFirst(5)
                let check = rest.prefix { $0 != ":" }
                blocks.append((status.trimmingCharacters(in: .whitespaces), String(check), line))
            } else if line.hasPrefix("       "), !blocks.isEmpty {
                blocks[blocks.count - 1].text += "\n" + line.trimmingCharacters(in: .whitespaces)
            } else if let receiver = ["Gmail", "Yahoo", "Microsoft"].first(where: { line.hasPrefix("  \($0) ") }) {
                blocks.append(("", receiver, line))
            }
        }
    }

    func contains(_ e: DoctorScenario.Expectation) -> Bool {
        blocks.contains { b in
            b.check == e.check && (b.status.isEmpty || b.status == e.status) && b.text.contains(e.text)
        }
    }
}

/// One dnsmasq serving every zone, and a copy of the zones' key store, for the whole suite.
struct DoctorZones: Sendable {
    var directory: String
    var keysDirectory: String
    var server: ZoneServer

    @TaskLocal static var current: DoctorZones?

    static func shared() throws -> DoctorZones { try #require(current, "the suite needs the .doctorZones trait") }

    /// Runs `dkimkey doctor` for a scenario against the zones (with the suite's copy of the keys, or `keys`).
    func doctor(_ scenario: DoctorScenario, extra: [String] = [], keys: String? = nil) throws -> ProcessRunner.Result {
        let keysDirectory = keys ?? self.keysDirectory
        var arguments = ["doctor"] + scenario.arguments
        if let i = arguments.firstIndex(of: "POSTFIX") {
            let config = directory + "/postfix-\(scenario.name)"
            try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: true)
            try CLI.write("relayhost = \(scenario.postfixRelayhost ?? "")\n", to: config + "/main.cf")
            arguments[i] = config
        }
        for age in scenario.keyAges {
            let path = "\(keysDirectory)/\(age.domain)/\(age.selector).pem"
            let date = Date().addingTimeInterval(-Double(age.days) * 86_400 - 3600)
            try FileManager.default.setAttributes([.modificationDate: date], ofItemAtPath: path)
        }
        return try CLI.run(arguments + ["--keys-dir", keysDirectory, "--nameserver", server.address, "--timeout", "2"]
                           + extra)
    }
}

struct DoctorZonesTrait: SuiteTrait, TestScoping {
    func provideScope(for test: Test, testCase: Test.Case?,
                      performing function: @Sendable () async throws -> Void) async throws {
        let directory = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(directory) }
        let keys = directory + "/keys"
        try FileManager.default.copyItem(atPath: DoctorScenario.keysDirectory, toPath: keys)
        let server = try ZoneServer.start(try DoctorScenario.allRecords(),
                                          authoritative: ["test", "in-addr.arpa", "ip6.arpa"], directory: directory)
        defer { server.stop() }
        let zones = DoctorZones(directory: directory, keysDirectory: keys, server: server)
        try await DoctorZones.$current.withValue(zones) {
            try await function()
        }
    }
}

extension Trait where Self == DoctorZonesTrait {
    /// Every test zone served by one dnsmasq on loopback, for the whole suite.
    static var doctorZones: Self { Self() }
}
