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

    func cache(_ server: FakeDNSServer, clock: Clock = Clock(),
               limits: CachingTXTResolver.Limits = .init()) throws -> CachingTXTResolver {
        // One try: each lookup that misses the cache is one query. A timeout no loaded machine reaches.
        CachingTXTResolver(upstream: try DNSClient(nameserver: server.address, timeout: 30, tries: 1),
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

    /// A TXT record of `length` bytes, as the 255-byte character-strings DNS carries it in.
    static func strings(_ length: Int, _ fill: Character = "a") -> [String] {
        stride(from: 0, to: length, by: 255).map { String(repeating: fill, count: min(255, length - $0)) }
    }

    /// Issue 18 #8: answers are as large as DNS allows (~64 KB), but a key record longer than
    /// `KeyRecord.maximumLength` is refused anyway; such an answer is handed on each time and never
    /// kept. One exactly at the limit is kept.
    @Test func anAnswerLongerThanAKeyRecordMayBeIsPassedOnButNeverCached() throws {
        let limit = KeyRecord.maximumLength
        let server = try FakeDNSServer(["big._domainkey.example.com": .txt([Self.strings(limit + 1)]),
                                        "edge._domainkey.example.com": .txt([Self.strings(limit)])])
        let c = try cache(server)
        for _ in 0..<3 {
            guard case .records(let list) = c.lookupTXT("big._domainkey.example.com") else {
                Issue.record("no records for big"); return
            }
            #expect(list.map(\.utf8.count) == [limit + 1])
        }
        #expect(server.queries(for: "big._domainkey.example.com") == 3)
        #expect(c.size.entries == 0 && c.size.bytes == 0, "\(c.size)")
        _ = c.lookupTXT("edge._domainkey.example.com")
        _ = c.lookupTXT("edge._domainkey.example.com")
        #expect(server.queries(for: "edge._domainkey.example.com") == 1)
        #expect(c.size.entries == 1 && c.size.bytes > limit, "\(c.size)")
    }

    /// Issue 18 #8: 10,000 entries of any size for up to an hour took the milter from 22.5 to 115 MB
    /// with 1,500 answers of 60 KB. With a byte bound, many large answers never hold more than it:
    /// the least recently used go, the ones in use stay.
    @Test func manyLargeAnswersNeverHoldMoreBytesThanTheBound() throws {
        let count = 60
        var table: [String: FakeDNSServer.Answer] = [:]
        for i in 0..<count { table["k\(i)._domainkey.example.com"] = .txt([Self.strings(15_000)]) }
        let server = try FakeDNSServer(table)
        var limits = CachingTXTResolver.Limits()
        limits.maximumBytes = 256 << 10
        let c = try cache(server, limits: limits)
        var most = 0
        for i in 0..<count {
            _ = c.lookupTXT("k\(i)._domainkey.example.com")
            _ = c.lookupTXT("k0._domainkey.example.com")  // in use all along: stays cached
            most = max(most, c.size.bytes)
            #expect(c.size.bytes <= limits.maximumBytes, "after \(i + 1) answers: \(c.size)")
        }
        #expect(most > limits.maximumBytes / 2, "the cache was used: at most \(most) bytes")
        #expect(c.size.bytes >= c.size.entries * 15_000, "the count covers the text: \(c.size)")
        #expect(server.queries(for: "k0._domainkey.example.com") == 1)
        // The oldest answers not used since were evicted; the newest is still there.
        _ = c.lookupTXT("k1._domainkey.example.com")
        #expect(server.queries(for: "k1._domainkey.example.com") == 2)
        _ = c.lookupTXT("k\(count - 1)._domainkey.example.com")
        #expect(server.queries(for: "k\(count - 1)._domainkey.example.com") == 1)
    }
}

final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) -> R) -> R { lock.lock(); defer { lock.unlock() }; return body(&value) }
}
