import DKIM
import DKIMDNS
import DKIMTestSupport
import Foundation
import Testing

@Suite struct CachingTXTResolverTests {
    final class Clock: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 1000.0
        func now() -> Double { lock.lock(); defer { lock.unlock() }; return value }
        func advance(_ s: Double) { lock.lock(); value += s; lock.unlock() }
    }

    func cache(_ server: FakeDNSServer, clock: Clock = Clock(), limits: CachingTXTResolver.Limits = .init()) throws -> CachingTXTResolver {
        CachingTXTResolver(upstream: try SystemTXTResolver(nameserver: server.address, timeout: 2, tries: 1),
                           limits: limits, clock: { clock.now() })
    }

    @Test func secondLookupOfASelectorMakesNoQuery() throws {
        let server = try FakeDNSServer(["s._domainkey.example.com": .txt([["v=DKIM1; p=AB"]], ttl: 300)])
        let c = try cache(server)
        #expect(c.lookupTXT("s._domainkey.example.com") == .records(["v=DKIM1; p=AB"]))
        #expect(c.lookupTXT("S._domainkey.Example.COM.") == .records(["v=DKIM1; p=AB"]))
        #expect(server.queries(for: "s._domainkey.example.com") == 1)
        #expect(c.statistics.hits == 1)
    }

    @Test func expiredTTLMakesANewQueryAndTTLIsKeptWithinFloorAndCap() throws {
        let server = try FakeDNSServer(["short._domainkey.example.com": .txt([["v=DKIM1; p=AB"]], ttl: 5),
                                        "long._domainkey.example.com": .txt([["v=DKIM1; p=AB"]], ttl: 86400)])
        let clock = Clock()
        let c = try cache(server, clock: clock)
        _ = c.lookupTXT("short._domainkey.example.com")
        _ = c.lookupTXT("long._domainkey.example.com")
        clock.advance(30)  // below the 60 s floor: still cached
        _ = c.lookupTXT("short._domainkey.example.com")
        #expect(server.queries(for: "short._domainkey.example.com") == 1)
        clock.advance(31)  // past the floor
        _ = c.lookupTXT("short._domainkey.example.com")
        #expect(server.queries(for: "short._domainkey.example.com") == 2)
        clock.advance(3600)  // past the one-hour cap, although the TTL is a day
        _ = c.lookupTXT("long._domainkey.example.com")
        #expect(server.queries(for: "long._domainkey.example.com") == 2)
    }

    @Test func nonexistentNamesAreCachedBrieflyAndFailuresHardlyAtAll() throws {
        let server = try FakeDNSServer(["fail._domainkey.example.com": .servfail])
        let clock = Clock()
        let c = try cache(server, clock: clock)
        _ = c.lookupTXT("gone._domainkey.example.com")
        _ = c.lookupTXT("fail._domainkey.example.com")
        clock.advance(10)
        _ = c.lookupTXT("gone._domainkey.example.com")
        _ = c.lookupTXT("fail._domainkey.example.com")
        #expect(server.queries(for: "gone._domainkey.example.com") == 1)
        #expect(server.queries(for: "fail._domainkey.example.com") == 2)
        clock.advance(60)
        _ = c.lookupTXT("gone._domainkey.example.com")
        #expect(server.queries(for: "gone._domainkey.example.com") == 2)
    }

    @Test func fiftyConcurrentLookupsOfANewSelectorMakeOneQuery() throws {
        let server = try FakeDNSServer(["new._domainkey.example.com": .txt([["v=DKIM1; p=AB"]])])
        let c = try cache(server)
        let results = Locked([TXTLookupResult]())
        DispatchQueue.concurrentPerform(iterations: 50) { _ in
            let r = c.lookupTXT("new._domainkey.example.com")
            results.withLock { $0.append(r) }
        }
        #expect(results.withLock { $0 }.count == 50)
        #expect(results.withLock { $0 }.allSatisfy { $0 == .records(["v=DKIM1; p=AB"]) })
        #expect(server.queries(for: "new._domainkey.example.com") == 1)
    }

    @Test func theNumberOfEntriesIsBounded() throws {
        var table: [String: FakeDNSServer.Answer] = [:]
        for i in 0..<30 { table["k\(i)._domainkey.example.com"] = .txt([["v=DKIM1; p=AB"]]) }
        let server = try FakeDNSServer(table)
        var limits = CachingTXTResolver.Limits()
        limits.maximumEntries = 10
        let c = try cache(server, limits: limits)
        for i in 0..<30 { _ = c.lookupTXT("k\(i)._domainkey.example.com") }
        _ = c.lookupTXT("k0._domainkey.example.com")
        #expect(server.queries(for: "k0._domainkey.example.com") == 2)
        _ = c.lookupTXT("k29._domainkey.example.com")
        #expect(server.queries(for: "k29._domainkey.example.com") == 1)
    }
}

final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) -> R) -> R { lock.lock(); defer { lock.unlock() }; return body(&value) }
}
