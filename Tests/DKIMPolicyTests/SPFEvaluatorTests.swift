import DKIM
import DKIMPolicy
import DKIMTestSupport
import Testing

/// check_host() over in-memory zones (the same `DNSZone` dnsmasq serves in the command-line tests).
@Suite("SPF check_host()")
struct SPFEvaluatorTests {
    static func zone(_ text: String) throws -> DNSZone { try DNSZone(parsing: text) }

    static func check(_ zone: DNSZone, _ ip: String?, _ domain: String,
                      sender: String? = nil) -> SPFEvaluator.Evaluation {
        SPFEvaluator(resolver: zone).checkHost(ip.flatMap(IPAddress.init), domain: domain, sender: sender)
    }

    static let basic = """
        example.test.            TXT  "v=spf1 ip4:198.51.100.0/24 a mx include:isp.test -all"
        example.test.            A    203.0.113.10
        example.test.            MX   10 mx.example.test.
        mx.example.test.         A    203.0.113.25
        mx.example.test.         AAAA 2001:db8::25
        isp.test.                TXT  "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8:1::/48 ~all"
        """

    @Test(arguments: [("198.51.100.7", SPFResult.pass), ("203.0.113.10", .pass), ("203.0.113.25", .pass),
                      ("192.0.2.25", .pass), ("2001:db8:1::9", .pass), ("2001:db8::25", .pass),
                      ("203.0.113.11", .fail), ("2001:db8:2::1", .fail)])
    func eachMechanismAuthorizesItsAddresses(_ ip: String, _ expected: SPFResult) throws {
        let e = Self.check(try Self.zone(Self.basic), ip, "example.test")
        #expect(e.result == expected, "\(ip): \(e.reason)")
    }

    @Test func aFailsThroughTheIncludeAreNotMatches() throws {
        // isp.test gives softfail for other addresses: the include does not match, and -all decides.
        let e = Self.check(try Self.zone(Self.basic), "203.0.113.99", "example.test")
        #expect(e.result == .fail)
        #expect(e.reason.contains("-all"))
        #expect(e.lookups == 3)
    }

    @Test func theWorstCaseWalkCountsEveryLookupAndDrawsTheTree() throws {
        let e = Self.check(try Self.zone(Self.basic), nil, "example.test")
        #expect(e.result == .fail)
        #expect(e.lookups == 3 && e.voidLookups == 0)
        #expect(e.trace.totalLookups == 3)
        let lines = e.trace.lines(escape: { $0 })
        let head = "example.test: \"v=spf1 ip4:198.51.100.0/24 a mx include:isp.test -all\" (3 lookups)"
        #expect(lines[0].hasPrefix(head),
                "\(lines)")
        #expect(lines.contains { $0.contains("mx: MX example.test: mx.example.test; A mx.example.test: 203.0.113.25") },
                "\(lines)")
        #expect(lines.contains { $0.hasPrefix("    isp.test: \"v=spf1 ip4:192.0.2.0/24") }, "\(lines)")
    }

    @Test func noRecordIsNoneAndTwoRecordsArePermerror() throws {
        let z = try Self.zone("""
            none.test.  TXT "google-site-verification=abc"
            two.test.   TXT "v=spf1 -all"
            two.test.   TXT "v=spf1 mx -all"
            """)
        #expect(Self.check(z, "192.0.2.1", "none.test").result == .none)
        #expect(Self.check(z, "192.0.2.1", "absent.test").result == .none)
        let two = Self.check(z, "192.0.2.1", "two.test")
        #expect(two.result == .permerror && two.reason.contains("2 SPF records"), "\(two.reason)")
    }

    @Test func elevenLookupsArePermerrorTenAreNot() throws {
        var lines: [String] = []
        for i in 1...11 { lines.append("h\(i).ten.test. A 192.0.2.\(i)") }
        let ten = (1...10).map { "a:h\($0).ten.test" }.joined(separator: " ")
        lines.append("ten.test. TXT \"v=spf1 \(ten) -all\"")
        lines.append("eleven.test. TXT \"v=spf1 \(ten) a:h11.ten.test -all\"")
        let z = try Self.zone(lines.joined(separator: "\n"))
        let okay = Self.check(z, "192.0.2.200", "ten.test")
        #expect(okay.result == .fail && okay.lookups == 10)
        let over = Self.check(z, "192.0.2.200", "eleven.test")
        #expect(over.result == .permerror && over.reason.contains("more than 10 DNS lookups"), "\(over.reason)")
        // The address matched by the 11th term never gets there either.
        #expect(Self.check(z, "192.0.2.11", "eleven.test").result == .permerror)
        #expect(Self.check(z, "192.0.2.1", "eleven.test").result == .pass, "a match before the limit passes")
    }

    @Test func aThirdVoidLookupIsPermerror() throws {
        let z = try Self.zone("""
            void.test.  TXT "v=spf1 a:nx1.void.test mx:nx2.void.test a:nx3.void.test ip4:192.0.2.1 -all"
            two.test.   TXT "v=spf1 a:nx1.void.test a:nx2.void.test ip4:192.0.2.1 -all"
            """)
        let e = Self.check(z, "192.0.2.1", "void.test")
        #expect(e.result == .permerror && e.reason.contains("void"), "\(e.reason)")
        #expect(Self.check(z, "192.0.2.1", "two.test").result == .pass)
    }

    @Test func includeLoopsEndAtOnce() throws {
        let z = try Self.zone("""
            loop-a.test.  TXT "v=spf1 include:loop-b.test -all"
            loop-b.test.  TXT "v=spf1 include:loop-a.test -all"
            self.test.    TXT "v=spf1 redirect=self.test"
            """)
        let e = Self.check(z, "192.0.2.1", "loop-a.test")
        #expect(e.result == .permerror && e.reason.contains("loop-a.test → loop-b.test → loop-a.test"),
                "\(e.reason)")
        #expect(e.queries == 2)
        #expect(Self.check(z, "192.0.2.1", "self.test").result == .permerror)
    }

    @Test func includeAndRedirectOfDomainsWithoutSPFArePermerror() throws {
        let z = try Self.zone("""
            inc.test.    TXT "v=spf1 include:nothing.test -all"
            red.test.    TXT "v=spf1 redirect=nothing.test"
            ok.test.     TXT "v=spf1 redirect=isp.test"
            isp.test.    TXT "v=spf1 ip4:192.0.2.0/24 -all"
            """)
        #expect(Self.check(z, "192.0.2.1", "inc.test").result == .permerror)
        #expect(Self.check(z, "192.0.2.1", "red.test").result == .permerror)
        #expect(Self.check(z, "192.0.2.1", "ok.test").result == .pass)
        #expect(Self.check(z, "198.51.100.1", "ok.test").result == .fail)
    }

    @Test func moreThanTenMXNamesArePermerror() throws {
        var lines = (1...11).map { "many.test. MX \($0) mx\($0).many.test." }
        lines.append("many.test. TXT \"v=spf1 mx -all\"")
        let e = Self.check(try Self.zone(lines.joined(separator: "\n")), "192.0.2.1", "many.test")
        #expect(e.result == .permerror && e.reason.contains("11 MX records"), "\(e.reason)")
    }

    @Test func ptrMatchesValidatedNamesOnly() throws {
        let z = try Self.zone("""
            ptr.test.                  TXT "v=spf1 ptr -all"
            7.2.0.192.in-addr.arpa.    PTR mail.ptr.test.
            mail.ptr.test.             A   192.0.2.7
            8.2.0.192.in-addr.arpa.    PTR forged.ptr.test.
            forged.ptr.test.           A   192.0.2.99
            """)
        #expect(Self.check(z, "192.0.2.7", "ptr.test").result == .pass)
        #expect(Self.check(z, "192.0.2.8", "ptr.test").result == .fail, "the name's address is not the client's")
        #expect(Self.check(z, "192.0.2.9", "ptr.test").result == .fail)
    }

    /// RFC 7208 §7.4's macro examples, through `exists:`, which passes only when the expansion is exact.
    @Test(arguments: [
        "%{ir}.%{v}._spf.%{d2}": "3.2.0.192.in-addr._spf.example.com",
        "%{lr-}.lp._spf.%{d2}": "bad.strong.lp._spf.example.com",
        "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}": "bad.strong.lp.3.2.0.192.in-addr._spf.example.com",
        "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}": "3.2.0.192.in-addr.strong.lp._spf.example.com",
        "%{d2}.trusted-domains.example.net": "example.com.trusted-domains.example.net",
        "%{dr}.%{o}.%{h}.x.example.net": "com.example.email.email.example.com.helo.example.org.x.example.net",
        "%{s}.x.example.net": "strong-bad@email.example.com.x.example.net",
        "%{d1}.%{d3}.x.example.net": "com.email.example.com.x.example.net",
    ])
    func macrosExpandAsRFC7208Shows(_ spec: String, _ expanded: String) throws {
        let z = try Self.zone("""
            email.example.com.  TXT "v=spf1 exists:\(spec) -all"
            \(expanded).         A   127.0.0.2
            """)
        let e = SPFEvaluator(resolver: z).checkHost(IPAddress("192.0.2.3"), domain: "email.example.com",
                                                    sender: "strong-bad@email.example.com", helo: "helo.example.org")
        #expect(e.result == .pass, "\(spec) did not expand to \(expanded): \(e.trace.lines(escape: { $0 }))")
    }

    @Test func ipv6AddressesExpandAsNibbles() throws {
        let name = "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
        let z = try Self.zone("""
            example.com.  TXT "v=spf1 exists:%{ir}.%{v}._spf.%{d2} -all"
            \(name).      A   127.0.0.2
            """)
        #expect(Self.check(z, "2001:db8::cb01", "example.com").result == .pass)
    }

    @Test func upperCaseMacrosAreURLEscaped() throws {
        let spec = try SPFMacroString(parsing: "%{L}.%{l}")
        #expect(spec.expand { $0 == "l" ? "a b/c~d" : "" } == "a%20b%2Fc~d.a b/c~d")
    }

    @Test func aTemporaryFailureIsTemperror() throws {
        let z = try Self.zone("""
            example.test.  TXT "v=spf1 a:down.test ip4:192.0.2.1 -all"
            """)
        let resolver = FailingResolver(zone: z, failing: ["down.test"])
        let e = SPFEvaluator(resolver: resolver).checkHost(IPAddress("192.0.2.1"), domain: "example.test")
        #expect(e.result == .temperror && e.reason.contains("down.test"), "\(e.reason)")
        let top = SPFEvaluator(resolver: FailingResolver(zone: z, failing: ["example.test"]))
            .checkHost(IPAddress("192.0.2.1"), domain: "example.test")
        #expect(top.result == .temperror)
    }

    @Test func aRecordGivenInAdvanceIsEvaluatedAsTheDomains() throws {
        let e = SPFEvaluator(resolver: try Self.zone(Self.basic))
            .checkHost(IPAddress("192.0.2.9"), domain: "example.test", record: "v=spf1 include:isp.test -all")
        #expect(e.result == .pass)
    }
}

/// A zone whose names in `failing` answer SERVFAIL.
struct FailingResolver: DNSResolver {
    var zone: DNSZone
    var failing: Set<String>

    func lookup(_ name: String, type: DNSRecordType) -> DNSLookupResult {
        failing.contains(name.lowercased()) ? .temporaryFailure(.serverFailure) : zone.lookup(name, type: type)
    }
}
