import DKIMPolicy
import Testing

@Suite("IP addresses as SPF reads them")
struct IPAddressTests {
    @Test(arguments: ["192.0.2.1", "0.0.0.0", "255.255.255.255"])
    func dottedQuadsAreRead(_ text: String) {
        #expect(IPAddress(text)?.description == text)
    }

    @Test(arguments: ["1.2.03.4", "256.1.1.1", "1.2.3", "1.2.3.4.5", "1..2.3", "a.b.c.d", ""])
    func malformedIPv4IsRefused(_ text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test(arguments: [("2001:db8::1", "2001:db8::1"), ("2001:0DB8:0:0:0:0:0:1", "2001:db8::1"), ("::", "::"),
                      ("::1", "::1"), ("2001:db8::192.0.2.1", "2001:db8::c000:201"), ("fe80::", "fe80::")])
    func ipv6IsReadAndWrittenAsRFC5952(_ text: String, _ written: String) {
        #expect(IPAddress(text)?.description == written)
    }

    @Test(arguments: ["2001:db8:::1", "2001:db8::1::1", "12345::", "1:2:3:4:5:6:7:8:9", "+1::", "g::"])
    func malformedIPv6IsRefused(_ text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func anIPv4MappedAddressIsIPv4() {
        #expect(IPAddress("::ffff:192.0.2.7")?.description == "192.0.2.7")
        #expect(IPAddress("::ffff:192.0.2.7")?.isIPv6 == false)
    }

    @Test func networksMatchByPrefix() throws {
        let ip = try #require(IPAddress("192.0.2.130"))
        #expect(ip.isIn(try #require(IPAddress("192.0.2.128")), prefixLength: 25))
        #expect(!ip.isIn(try #require(IPAddress("192.0.2.0")), prefixLength: 25))
        #expect(ip.isIn(try #require(IPAddress("10.0.0.0")), prefixLength: 0))
        let v6 = try #require(IPAddress("2001:db8:1::5"))
        #expect(v6.isIn(try #require(IPAddress("2001:db8::")), prefixLength: 32))
        #expect(!v6.isIn(try #require(IPAddress("2001:db8::")), prefixLength: 48))
        #expect(!ip.isIn(try #require(IPAddress("::")), prefixLength: 0), "families never match")
    }

    @Test func macroAndReverseForms() throws {
        let v4 = try #require(IPAddress("192.0.2.3"))
        #expect(v4.macroText == "192.0.2.3" && v4.macroVersion == "in-addr")
        #expect(v4.reverseName == "3.2.0.192.in-addr.arpa")
        let v6 = try #require(IPAddress("2001:db8::cb01"))
        // RFC 7208 §7.4's example.
        #expect(v6.macroText == "2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.b.0.1")
        #expect(v6.reverseName == "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa")
    }
}
