import DKIMPolicy
import Testing

@Suite("SPF record syntax")
struct SPFRecordTests {
    @Test(arguments: ["v=spf1", "v=spf1 -all", "V=SPF1 mx", "v=spf1  a  mx   -all"])
    func recordsAreRecognized(_ text: String) {
        #expect(SPFRecord.isSPFRecord(text))
    }

    @Test(arguments: ["v=spf10 -all", "spf1 -all", "v=spf1\tmx", "v=DKIM1; p=", ""])
    func otherTextIsNotSPF(_ text: String) {
        #expect(!SPFRecord.isSPFRecord(text))
    }

    @Test func termsAreRead() throws {
        let r = try SPFRecord(parsing: "v=spf1 +a -mx:mail.example.com/24//64 ~ip4:192.0.2.0/24 ?ip6:2001:db8::/32 "
            + "include:_spf.example.net exists:%{i}.x.example.org ptr redirect=_spf.example.com exp=exp.example.com "
            + "foo=bar")
        #expect(r.terms.count == 10)
        #expect(r.terms[1] == .directive(.fail, .mx(try SPFMacroString(parsing: "mail.example.com"),
                                                    SPFDualCIDR(ipv4: 24, ipv6: 64))))
        #expect(r.terms[2] == .directive(.softfail, .ip4(IPAddress("192.0.2.0")!, prefixLength: 24)))
        #expect(r.redirect?.text == "_spf.example.com")
        #expect(r.allQualifier == nil)
        #expect(r.terms.filter(\.countsAsLookup).count == 6)
    }

    @Test(arguments: [
        ("v=spf1 ip4:192.0.2.300 -all", "not an IPv4 address"),
        ("v=spf1 ip4:1.2.03.4 -all", "without leading zeros"),
        ("v=spf1 ip4:192.0.2.0/33 -all", "prefix length from 0 to 32"),
        ("v=spf1 ip6:2001:db8::/129 -all", "from 0 to 128"),
        ("v=spf1 a:192.0.2.1 -all", "is not a domain name"),
        ("v=spf1 include:localhost -all", "is not a domain name"),
        ("v=spf1 mx, -all", "separated by spaces, not commas"),
        ("v=spf1 includes:example.com -all", "is not an SPF mechanism"),
        ("v=spf1 redirect=a.example redirect=b.example", "more than once"),
        ("v=spf1 exists:%{x}.example.com -all", "macro letter"),
        ("v=spf1 exists:%{c}.example.com -all", "exp= text"),
        ("v=spf1 exists:50%.example.com -all", "%."),
        ("v=spf1 all:foo", "takes no argument"),
        ("v=spf1 include -all", "needs a domain"),
        ("v=spf1 a/33 -all", "/N (0-32)"),
    ])
    func syntaxErrorsNameTheTerm(_ text: String, _ words: String) {
        #expect(throws: SPFSyntaxError.self) { try SPFRecord(parsing: text) }
        do {
            _ = try SPFRecord(parsing: text)
        } catch {
            #expect(error.message.contains(words), "\(text): \(error.message)")
        }
    }
}
