import DKIM
import DKIMDNS
import DKIMTestSupport
import Foundation
import Testing

/// resolv.conf(5) as glibc reads it, and name server addresses as the options take them.
@Suite struct ResolvConfTests {
    @Test func readsServersAndOptions() throws {
        let conf = ResolvConf(parsing: """
            # a comment
            ; another
            search example.com
            nameserver 192.0.2.53
            nameserver 2001:db8::53
            options timeout:3 attempts:4 rotate ndots:2
            nameserver 198.51.100.53
            nameserver 203.0.113.53
            nameserver not-an-address
            """)
        #expect(conf.nameservers.map(\.description) == ["192.0.2.53:53", "[2001:db8::53]:53", "198.51.100.53:53"])
        #expect(conf.timeout == 3 && conf.attempts == 4 && conf.rotate)
    }

    @Test func fallsBackToGlibcDefaults() {
        let empty = ResolvConf(parsing: "")
        #expect(empty.nameservers.map(\.description) == ["127.0.0.1:53"])
        #expect(empty.timeout == 5 && empty.attempts == 2 && !empty.rotate)
        let capped = ResolvConf(parsing: "options timeout:99 attempts:99\n")
        #expect(capped.timeout == 30 && capped.attempts == 5)
        #expect(ResolvConf.load(path: "/nonexistent/resolv.conf") == empty)
    }

    @Test func theSystemConfigurationComesFromTheFile() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let path = dir + "/resolv.conf"
        let text = "nameserver 127.0.0.9\noptions timeout:1 attempts:3\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let configuration = DNSClient.Configuration.system(resolvConf: path)
        #expect(configuration.nameservers.map(\.description) == ["127.0.0.9:53"])
        #expect(configuration.timeout == 1 && configuration.tries == 3)
    }

    @Test func nameserverAddressesTakeAPortAndIPv6() throws {
        #expect(try DNSNameserver("192.0.2.1").description == "192.0.2.1:53")
        #expect(try DNSNameserver("192.0.2.1:5353").port == 5353)
        #expect(try DNSNameserver("::1").isIPv6)
        #expect(try DNSNameserver("[2001:db8::1]:5353").description == "[2001:db8::1]:5353")
        #expect(try DNSNameserver("fe80::1%1").isIPv6)
        for bad in ["", "ns.example.com", "192.0.2.1:0", "192.0.2.1:65536", "[::1", "[::1]5353", "192.0.2.256",
                    "fe80::1%no-such-interface"] {
            #expect(throws: DKIMError.self, "\(bad)") { try DNSNameserver(bad) }
        }
    }
}
