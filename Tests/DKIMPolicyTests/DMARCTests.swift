import DKIM
import DKIMPolicy
import DKIMTestSupport
import Testing

@Suite("DMARC records, tree walk and alignment (RFC 9989)")
struct DMARCTests {
    @Test func aRecordIsRead() throws {
        let r = try #require(DMARCRecord(parsing: "v=DMARC1; p=quarantine; sp=reject; np=reject; adkim=s; aspf=r; "
            + "t=y; psd=n; rua=mailto:agg@example.com,mailto:other@example.net!10m; ruf=mailto:f@example.com; fo=1:d"))
        #expect(r.policy == .quarantine && r.subdomainPolicy == .reject && r.nonexistentPolicy == .reject)
        #expect(r.dkimAlignment == .strict && r.spfAlignment == .relaxed)
        #expect(r.testing && r.publicSuffix == .no)
        #expect(r.aggregateReports == ["mailto:agg@example.com", "mailto:other@example.net"])
        #expect(r.reportDomains == ["example.com", "example.net", "example.com"])
        #expect(r.problems.isEmpty, "\(r.problems)")
    }

    @Test func removedAndUnknownTagsAreListedNotFatal() throws {
        let r = try #require(DMARCRecord(parsing: "v=DMARC1; p=none; pct=50; rf=afrf; ri=3600; foo=bar"))
        #expect(r.removedTags.map(\.name) == ["pct", "rf", "ri"])
        #expect(r.unknownTags == ["foo"])
        #expect(r.policy == DMARCRecord.Policy.none)
    }

    @Test(arguments: [("v=DMARC1; p=block", "not none, quarantine or reject"), ("v=DMARC1", "p= is missing"),
                      ("v=DMARC1; p=none; p=reject", "appears twice"),
                      ("v=DMARC1; p=none; rua=agg@example.com", "not a URI"),
                      ("v=DMARC1; p=none; adkim=x", "not r (relaxed) or s")])
    func problemsAreNamed(_ text: String, _ words: String) throws {
        let r = try #require(DMARCRecord(parsing: text))
        #expect(r.problems.contains { $0.contains(words) }, "\(r.problems)")
    }

    @Test(arguments: ["v=spf1 -all", "v=DMARC2; p=none", "p=none; v=DMARC1", "v=dmarc1; p=none"])
    func otherTextIsNotADMARCRecord(_ text: String) {
        #expect(DMARCRecord(parsing: text) == nil)
    }

    /// Counts the queries of a zone.
    final class Counting: DNSResolver, @unchecked Sendable {
        let zone: DNSZone
        var names: [String] = []
        init(_ zone: DNSZone) { self.zone = zone }
        func lookup(_ name: String, type: DNSRecordType) -> DNSLookupResult {
            names.append(name)
            return zone.lookup(name, type: type)
        }
    }

    static let zone = """
        _dmarc.example.test.       TXT "v=DMARC1; p=reject; sp=quarantine; np=reject"
        _dmarc.b.example.test.     TXT "v=DMARC1; p=none"
        _dmarc.psd.test.           TXT "v=DMARC1; p=reject; psd=y"
        _dmarc.org.psd.test.       TXT "v=DMARC1; p=none; psd=n"
        _dmarc.two.test.           TXT "v=DMARC1; p=none"
        _dmarc.two.test.           TXT "v=DMARC1; p=reject"
        """

    @Test func aSubdomainFindsThePolicyOfItsOrganizationalDomain() throws {
        let z = Counting(try DNSZone(parsing: Self.zone))
        let walk = DMARCTreeWalk(from: "a.news.example.test", resolver: z)
        #expect(z.names == ["_dmarc.a.news.example.test", "_dmarc.news.example.test", "_dmarc.example.test",
                            "_dmarc.test"])
        #expect(walk.organizationalDomain == "example.test")
        #expect(walk.policyStep?.domain == "example.test")
        #expect(walk.appliedPolicy()! == (.quarantine, "sp"))
        #expect(walk.appliedPolicy(startExists: false)! == (.reject, "np"))
        #expect(DMARCTreeWalk(from: "example.test", resolver: z).appliedPolicy()! == (.reject, "p"))
    }

    @Test func theOrganizationalDomainIsTheRecordWithFewestLabels() throws {
        let z = try DNSZone(parsing: Self.zone)
        let walk = DMARCTreeWalk(from: "x.b.example.test", resolver: z)
        #expect(walk.organizationalDomain == "example.test")
        #expect(walk.policyStep?.domain == "example.test",
                "the intermediate record at b.example.test is not the policy")
        #expect(DMARCTreeWalk(from: "b.example.test", resolver: z).appliedPolicy()! == (.none, "p"))
    }

    @Test func aPublicSuffixRecordMakesTheDomainBelowItTheOrganization() throws {
        let z = try DNSZone(parsing: Self.zone)
        let shop = DMARCTreeWalk(from: "mail.shop.psd.test", resolver: z)
        #expect(shop.organizationalDomain == "shop.psd.test")
        #expect(shop.publicSuffixStep?.domain == "psd.test")
        #expect(shop.policyStep?.domain == "psd.test")
        let org = DMARCTreeWalk(from: "x.org.psd.test", resolver: z)
        #expect(org.organizationalDomain == "org.psd.test", "psd=n stops the walk")
        #expect(org.steps.count == 2)
        // The public suffix domain itself is its own organizational domain.
        #expect(DMARCTreeWalk(from: "psd.test", resolver: z).organizationalDomain == "psd.test")
    }

    @Test func longNamesJumpToSevenLabelsSoAtMostEightQueries() throws {
        let z = Counting(try DNSZone(parsing: Self.zone))
        let walk = DMARCTreeWalk(from: "a.b.c.d.e.f.g.h.i.j.example.test", resolver: z)
        #expect(z.names.count == 8)
        #expect(z.names[1] == "_dmarc.f.g.h.i.j.example.test")
        #expect(walk.organizationalDomain == "example.test")
    }

    @Test func severalRecordsAtOneNameAreDiscarded() throws {
        let walk = DMARCTreeWalk(from: "two.test", resolver: try DNSZone(parsing: Self.zone))
        guard case .several(let list) = walk.steps.first?.found else { Issue.record("\(walk.steps)"); return }
        #expect(list.count == 2)
        #expect(walk.policyStep == nil)
    }

    @Test func aDNSFailureStopsTheWalk() throws {
        let z = FailingResolver(zone: try DNSZone(parsing: Self.zone), failing: ["_dmarc.news.example.test"])
        let walk = DMARCTreeWalk(from: "a.news.example.test", resolver: z)
        #expect(walk.failure == .serverFailure)
        #expect(walk.steps.count == 2)
    }

    @Test func alignmentIsRelaxedByOrganizationAndStrictByName() throws {
        let z = try DNSZone(parsing: Self.zone)
        let org = { (d: String) in DMARCTreeWalk(from: d, resolver: z).organizationalDomain }
        #expect(DMARCAlignment.isAligned("example.test", with: "news.example.test", mode: .relaxed,
                                         organizationalDomain: org))
        #expect(!DMARCAlignment.isAligned("example.test", with: "news.example.test", mode: .strict,
                                          organizationalDomain: org))
        #expect(!DMARCAlignment.isAligned("psd.test", with: "shop.psd.test", mode: .relaxed, organizationalDomain: org))
        #expect(!DMARCAlignment.isAligned("isp.test", with: "example.test", mode: .relaxed, organizationalDomain: org))
    }
}

@Suite("Authentication-Results of receivers")
struct ReceivedAuthenticationResultsTests {
    static let gmail = """
         mx.google.com;\r\n       dkim=pass header.i=@isp.test header.s=relay header.b=AbCdEf12;\r\n\
               spf=pass (google.com: domain of bounce@isp.test designates 192.0.2.25 as permitted sender) \
        smtp.mailfrom=bounce@isp.test;\r\n       dmarc=fail (p=QUARANTINE sp=QUARANTINE dis=QUARANTINE) \
        header.from=home.test
        """

    @Test func gmailsFieldIsRead() throws {
        let ar = try #require(ReceivedAuthenticationResults(value: Self.gmail))
        #expect(ar.authservID == "mx.google.com")
        #expect(ar.results.map(\.method) == ["dkim", "spf", "dmarc"])
        #expect(ar.results[0].property("header.i") == "@isp.test")
        #expect(ar.results[1].property("smtp.mailfrom") == "bounce@isp.test")
        #expect(ar.results[1].comment?.hasPrefix("google.com: domain of") == true)
        #expect(ar.results[2].comment == "p=QUARANTINE sp=QUARANTINE dis=QUARANTINE")
        #expect(ar.results[2].property("header.from") == "home.test")
    }

    @Test func arcFieldsCarryTheirInstance() throws {
        let ar = try #require(ReceivedAuthenticationResults(value: " i=2; mx.example.net; dkim=none; spf=none "
            + "smtp.mailfrom=x.test", arc: true))
        #expect(ar.instance == 2 && ar.authservID == "mx.example.net")
        #expect(ar.results.count == 2)
    }

    @Test(arguments: ["", ";;;", "(((", "\"", "a; =; b=; =c", String(repeating: "x=y; ", count: 5000)])
    func garbageNeverCrashes(_ value: String) {
        let ar = ReceivedAuthenticationResults(value: value)
        #expect((ar?.results.count ?? 0) <= 32)
    }

    @Test func theVerdictSaysWhyDMARCFailed() throws {
        let ar = try #require(ReceivedAuthenticationResults(value: Self.gmail))
        let v = ReceiverVerdict(ar, messageFromDomain: "home.test", organizationalDomain: { $0 })
        #expect(v.dmarc == "fail")
        let text = v.lines.joined(separator: "\n")
        #expect(text.contains("dmarc=fail (p=QUARANTINE sp=QUARANTINE dis=QUARANTINE) for From domain home.test"),
                "\(text)")
        #expect(text.contains("DKIM: pass for d=isp.test s=relay, not aligned: isp.test belongs to another "
            + "organization"),
                "\(text)")
        #expect(text.contains("SPF: pass for the envelope sender bounce@isp.test"), "\(text)")
        #expect(text.contains("to pass: sign with d=home.test"), "\(text)")
    }

    @Test func theVerdictSaysWhichIdentifierAlignedForAPass() throws {
        let ar = try #require(ReceivedAuthenticationResults(value: " mx.example.net; dkim=pass header.d=example.test "
            + "header.s=s1; spf=softfail smtp.mailfrom=bounce@isp.test; dmarc=pass header.from=news.example.test"))
        let v = ReceiverVerdict(ar, messageFromDomain: nil,
                                organizationalDomain: { $0.hasSuffix("example.test") ? "example.test" : $0 })
        let text = v.lines.joined(separator: "\n")
        #expect(text.contains("DMARC passed because the DKIM signature of d=example.test s=s1 passed and is aligned "
            + "with news.example.test (same organizational domain, relaxed)"), "\(text)")
    }
}
