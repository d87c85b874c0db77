import DKIM
import DKIMPolicy
import DKIMTestSupport
import Testing

/// The doctor's judgement without sockets or files: the test zones as an in-memory resolver, the
/// keys as facts.
@Suite("The doctor's findings")
struct DoctorTests {
    static func key(_ selector: String, _ domain: String, _ type: KeyRecord.KeyType = .rsa, bits: Int = 2048,
                    published: Bool = true, age: Int = 10) -> DKIMKeyFacts {
        DKIMKeyFacts(selector: selector, domain: domain, keyPath: "Keys/\(domain)/\(selector).pem", keyType: type,
                     bits: bits, published: published, checks: [.init("match", .ok, "matches")],
                     correctRecord: "v=DKIM1; k=rsa; p=AAAA", ageDays: age)
    }

    static func zone(_ name: String) throws -> DNSZone {
        var z = try DNSZone.load(DoctorScenario.directory + "/common.zone")
        z.merge(try DoctorScenario.load(name).zone)
        return z
    }

    static func finding(_ report: DoctorReport, _ area: DoctorFinding.Area, _ check: String) -> DoctorFinding? {
        report.findings.first { $0.area == area && $0.check == check }
    }

    @Test func theSeedAdminsRelayNeedsTheISPsInclude() throws {
        let doctor = Doctor(domain: "home-before.test", keys: [Self.key("mail2026", "home-before.test")],
                            relays: [RelayHost(host: "smtp.isp.test", port: 587)],
                            resolver: try Self.zone("seed-before"))
        let report = doctor.run()
        let relay = try #require(Self.finding(report, .spf, "relay"))
        #expect(relay.status == .fail)
        #expect(relay.publish == DoctorFinding.Record(name: "home-before.test",
                                                      value: "v=spf1 a include:isp.test -all"))
        #expect(!report.passed)
        #expect(report.receivers.allSatisfy { $0.spf == .missing && $0.dkim == .ok && !$0.meetsRules })
        #expect(report.receivers[0].nextStep.contains("include:isp.test"))
    }

    @Test func afterTheFixTheRelayIsAuthorizedAndTheRulesAreMet() throws {
        let doctor = Doctor(domain: "home-after.test", keys: [Self.key("mail2026", "home-after.test")],
                            relays: RelayHost.postfixList("[smtp.isp.test]:587"), resolver: try Self.zone("seed-after"))
        let report = doctor.run()
        #expect(Self.finding(report, .spf, "relay")?.status == .ok)
        #expect(report.passed, "\(report.findings.filter { $0.status == .fail })")
        #expect(report.receivers.allSatisfy { $0.meetsRules })
    }

    @Test func anUnbracketedPostfixRelayIsLookedUpAsMX() throws {
        var zone = try Self.zone("seed-after")
        try zone.add("isp.test", type: "MX", data: ["10", "mx.isp.test"])
        let report = Doctor(domain: "home-after.test", keys: [], relays: RelayHost.postfixList("isp.test"),
                            resolver: zone).run()
        let relay = try #require(Self.finding(report, .spf, "relay"))
        #expect(relay.status == .ok && relay.message.contains("(192.0.2.26)"), "\(relay.message)")
    }

    @Test func ed25519AloneDoesNotCountAndAParentKeyAlignsRelaxedOnly() throws {
        let ed = Doctor(domain: "edonly.test", keys: [Self.key("ed", "edonly.test", .ed25519, bits: 256)],
                        resolver: try Self.zone("ed25519-only")).run()
        #expect(Self.finding(ed, .dkim, "ed25519-only")?.status == .fail)
        #expect(ed.receivers.allSatisfy { $0.dkim == .missing })
        let parent = Doctor(domain: "shop.brand.test", keys: [Self.key("brand2026", "brand.test")],
                            resolver: try Self.zone("parent-d")).run()
        let alignment = try #require(Self.finding(parent, .dkim, "alignment"))
        #expect(alignment.status == .ok && alignment.message.contains("not under strict"), "\(alignment.message)")
    }

    @Test func strictDKIMAlignmentRefusesAParentKey() throws {
        var zone = try Self.zone("parent-d")
        zone = try {
            var z = DNSZone()
            for (name, list) in zone.records where name != "_dmarc.shop.brand.test" {
                for r in list { if case .txt(let t) = r { try z.add(name, type: "TXT", data: [t]) } }
            }
            try z.add("_dmarc.shop.brand.test", type: "TXT", data: ["v=DMARC1; p=reject; adkim=s"])
            return z
        }()
        let report = Doctor(domain: "shop.brand.test", keys: [Self.key("brand2026", "brand.test")],
                            resolver: zone).run()
        #expect(Self.finding(report, .dkim, "alignment")?.status == .fail)
    }

    @Test func oldKeysAskForRotation() throws {
        let report = Doctor(domain: "monitor.test", keys: [Self.key("mail2025", "monitor.test", age: 181)],
                            resolver: try Self.zone("dmarc-none")).run()
        #expect(Self.finding(report, .dkim, "age")?.status == .warn)
        #expect(Self.finding(report, .dmarc, "policy")?.status == .warn)
        #expect(report.passed)
    }

    @Test func everyPartStaysWithinItsQueryBudget() throws {
        // Every name answers: the walks and evaluations are as long as the limits allow.
        struct Endless: DNSResolver {
            func lookup(_ name: String, type: DNSRecordType) -> DNSLookupResult {
                switch type {
                case .txt where !name.hasPrefix("_dmarc"):
                    let record = "v=spf1 include:a.\(name) include:b.\(name) mx -all"
                    return .answer(DNSAnswer(records: [.txt(record)], ttl: 1))
                case .mx:
                    let exchanges = (1...10).map { DNSRecord.mx(preference: UInt16($0), exchange: "m\($0).\(name)") }
                    return .answer(DNSAnswer(records: exchanges, ttl: 1))
                default:
                    return .noData
                }
            }
        }
        final class Counter: DNSResolver, @unchecked Sendable {
            var count = 0
            func lookup(_ name: String, type: DNSRecordType) -> DNSLookupResult {
                count += 1
                return Endless().lookup(name, type: type)
            }
        }
        let counter = Counter()
        let report = Doctor(domain: "a.b.c.d.e.f.g.h.i.example.test", keys: [],
                            relays: [RelayHost(host: "relay.example.test")], resolver: counter).run()
        #expect(counter.count <= Doctor.Budgets.total, "\(counter.count) queries")
        #expect(report.queries == counter.count)
        #expect(!report.passed)
    }
}

@Suite("Relay hosts")
struct RelayHostTests {
    @Test(arguments: [("[smtp.isp.test]:587", "smtp.isp.test", 587, false),
                      ("smtp.isp.test:25", "smtp.isp.test", 25, true),
                      ("isp.test", "isp.test", nil, true), ("[192.0.2.1]", "192.0.2.1", nil, false),
                      ("[2001:db8::1]:587", "2001:db8::1", 587, false), ("192.0.2.1:25", "192.0.2.1", 25, false)])
    func postfixRelayhostValuesAreRead(_ text: String, _ host: String, _ port: Int?, _ mx: Bool) throws {
        let r = try #require(RelayHost(parsing: text, postfix: true))
        #expect(r.host == host && r.port == port && r.looksUpMX == mx)
    }

    @Test func aListAndAnEmptyValue() {
        #expect(RelayHost.postfixList("[a.test]:587, b.test").map(\.host) == ["a.test", "b.test"])
        #expect(RelayHost.postfixList("").isEmpty)
        #expect(RelayHost(parsing: "host:99999") == nil)
        #expect(RelayHost(parsing: "[unclosed") == nil)
    }
}
