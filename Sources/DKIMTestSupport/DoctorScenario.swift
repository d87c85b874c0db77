import Foundation

/// A test zone of `Tests/Fixtures/doctor/zones` with what `dkimkey doctor` must find there
/// (`$doctor`, `$expect`, `$exit`), the check_host() results it fixes for pyspf and for us
/// (`$spf`), and its set-up (`$publish-key`, `$key-age`, `$postfix-relayhost`). `common.zone`
/// (the ISP) is served with every zone.
public struct DoctorScenario: Sendable, CustomStringConvertible {
    public struct Expectation: Sendable {
        /// OK, WARN or FAIL.
        public var status: String
        /// The finding's check name, or a receiver (Gmail, Yahoo, Microsoft) for the table.
        public var check: String
        public var text: String
    }

    public struct SPFCheck: Sendable, Hashable {
        public var ip: String
        public var domain: String
        public var result: String
    }

    public var name: String
    public var summary: String
    public var arguments: [String]
    public var expectations: [Expectation]
    public var exitCode: Int32
    public var spfChecks: [SPFCheck]
    /// Keys whose file is made this many days old before the run.
    public var keyAges: [(domain: String, selector: String, days: Int)]
    /// Postfix's relayhost for `--postfix-config POSTFIX`.
    public var postfixRelayhost: String?
    /// The zone's records, its published keys included.
    public var zone: DNSZone

    public var description: String { name }

    public static let directory = Fixtures.root + "/doctor/zones"
    /// The key store the zones publish from (`$publish-key`); copied before use.
    public static let keysDirectory = Fixtures.root + "/doctor/keys"

    /// Every scenario (all zone files but common.zone), sorted by name.
    public static func all() throws -> [DoctorScenario] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".zone") && $0 != "common.zone" }.sorted()
        return try names.map { try load(String($0.dropLast(5))) }
    }

    /// The records of every zone, common.zone's included: what one dnsmasq serves.
    public static func allRecords() throws -> DNSZone {
        var zone = try DNSZone.load(directory + "/common.zone")
        for s in try all() { zone.merge(s.zone) }
        return zone
    }

    public static func load(_ name: String) throws -> DoctorScenario {
        var zone = try DNSZone.load(directory + "/\(name).zone")
        var scenario = DoctorScenario(name: name, summary: zone.summary, arguments: [], expectations: [], exitCode: 0,
                                      spfChecks: [], keyAges: [], postfixRelayhost: nil, zone: zone)
        for d in zone.directives {
            let a = d.arguments
            switch d.name {
            case "doctor": scenario.arguments = a
            case "expect" where a.count == 3:
                scenario.expectations.append(Expectation(status: a[0], check: a[1], text: a[2]))
            case "exit": scenario.exitCode = Int32(a.first ?? "0") ?? 0
            case "spf" where a.count == 3: scenario.spfChecks.append(SPFCheck(ip: a[0], domain: a[1], result: a[2]))
            case "key-age" where a.count == 3: scenario.keyAges.append((a[0], a[1], Int(a[2]) ?? 0))
            case "postfix-relayhost": scenario.postfixRelayhost = a.first
            case "publish-key" where a.count >= 2:
                let value = try publishedValue(domain: a[0], selector: a[1], quoted: a.count > 2 && a[2] == "quoted")
                try zone.add("\(a[1])._domainkey.\(a[0])", type: "TXT", data: [value])
            default:
                let line = a.joined(separator: " ")
                throw DNSZone.ZoneError(line: 0, "\(name).zone: $\(d.name) \(line) is not understood")
            }
        }
        scenario.zone = zone
        return scenario
    }

    /// The record `dkimkey generate` wrote to DOMAIN/SELECTOR.txt, joined; or, `quoted`, its
    /// zone-file strings pasted with their quotes, as into a web DNS panel.
    static func publishedValue(domain: String, selector: String, quoted: Bool) throws -> String {
        let line = try String(contentsOfFile: "\(keysDirectory)/\(domain)/\(selector).txt", encoding: .utf8)
        var strings: [String] = []
        var current: String?
        for c in line {
            if c == "\"" {
                if let s = current { strings.append(s); current = nil } else { current = "" }
            } else if current != nil {
                current!.append(c)
            }
        }
        return quoted ? strings.map { "\"\($0)\"" }.joined(separator: " ") : strings.joined()
    }
}
