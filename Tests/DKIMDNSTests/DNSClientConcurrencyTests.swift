import DKIM
import DKIMDNS
import DKIMTestSupport
import Dispatch
import Foundation
import Testing

/// Outstanding queries cost no threads, a dead server delays only the queries sent to it, and
/// the bound on outstanding queries refuses rather than blocks (security review, issue 18).
@Suite struct DNSClientConcurrencyTests {
    /// Counts completions and when each name was answered.
    final class Completions: @unchecked Sendable {
        private let condition = NSCondition()
        private var results: [DNSLookupResult] = []

        func add(_ result: DNSLookupResult) {
            condition.lock()
            results.append(result)
            condition.broadcast()
            condition.unlock()
        }

        /// The results once `count` have come, or nil after `seconds`.
        func wait(for count: Int, seconds: Double) -> [DNSLookupResult]? {
            let limit = Date(timeIntervalSinceNow: seconds)
            condition.lock()
            defer { condition.unlock() }
            while results.count < count {
                guard condition.wait(until: limit) else { return nil }
            }
            return results
        }
    }

    static func threads() -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.map { (try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8)) ?? "" }
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    static func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
        let limit = Date(timeIntervalSinceNow: seconds)
        while !condition() {
            if Date() > limit { return false }
            usleep(10_000)
        }
        return true
    }

    /// 1,000 queries that a server leaves unanswered are outstanding on the client's one thread;
    /// a query for a name the same server answers, sent after them through the same client, is
    /// answered at once. (Other suites run in this process at the same time, so the thread count
    /// gets a margin, far below one thread per query.)
    @Test func aThousandOutstandingQueriesAddNoThreadsAndDelayNothing() throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < 4096 {
            limit.rlim_cur = min(4096, limit.rlim_max)
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        var table: [String: FakeDNSServer.Answer] = ["key.example.com": .txt([["v=DKIM1; p=AB"]])]
        for i in 0..<1000 { table["q\(i).dead.example"] = .silent }
        let server = try FakeDNSServer(table)
        let client = try DNSClient(configuration: .init(nameservers: [DNSNameserver(server.address)],
                                                        timeout: 60, tries: 1, maximumOutstanding: 2000))
        let key = DNSLookupResult.answer(DNSAnswer(records: [.txt("v=DKIM1; p=AB")], ttl: 300))
        #expect(client.lookup("key.example.com", type: .txt) == key)
        let before = Self.threads()
        #expect(before.contains("dkim-dns"))
        let slow = Completions()
        let deadline = DispatchTime.now() + .seconds(60)
        for i in 0..<1000 {
            client.query("q\(i).dead.example", type: .txt, deadline: deadline) { slow.add($0) }
        }
        #expect(client.outstandingQueries == 1000)
        // Let the server read what reached it: under load its socket buffer overflows and drops
        // the rest, which stay unanswered all the same.
        var seen = -1
        #expect(Self.waitUntil(seconds: 10) {
            defer { seen = server.totalQueries }
            usleep(100_000)
            return seen == server.totalQueries && seen > 1
        })
        let during = Self.threads()
        #expect(during.count < before.count + 50, "threads before \(before.count), during \(during.count)")

        let fast = Completions()
        let start = DispatchTime.now()
        client.query("key.example.com", type: .txt, deadline: .now() + .seconds(5)) { fast.add($0) }
        let answered = fast.wait(for: 1, seconds: 5)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        #expect(answered == [key])
        // Far below the 60 s the unanswered ones wait, with room for a loaded machine.
        #expect(seconds < 3, "the answered query took \(seconds) s behind 1,000 unanswered ones")
        #expect(slow.wait(for: 1, seconds: 0) == nil, "the unanswered queries are still outstanding")
        #expect(client.outstandingQueries == 1000)
    }

    /// Beyond the bound a query is refused with a temporary failure at once; it never waits.
    @Test func queriesBeyondTheBoundAreRefusedAtOnce() throws {
        let server = try FakeDNSServer(["slow.example.com": .silent])
        let client = try DNSClient(configuration: .init(nameservers: [DNSNameserver(server.address)], timeout: 10,
                                                        tries: 1, maximumOutstanding: 3))
        let completions = Completions()
        let start = DispatchTime.now()
        for _ in 0..<5 {
            client.query("slow.example.com", type: .txt, deadline: .now() + .seconds(30)) { completions.add($0) }
        }
        let refused = completions.wait(for: 2, seconds: 5)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        #expect(refused == Array(repeating: .temporaryFailure(.tooManyOutstanding(limit: 3)), count: 2))
        #expect(seconds < 5, "refused after \(seconds) s, as if waiting for the 10 s timeout")
        #expect(client.outstandingQueries == 3)
        #expect(completions.wait(for: 3, seconds: 0.2) == nil)
    }

    /// Releasing the client completes what is outstanding (`.shutDown`) instead of leaving
    /// completions uncalled, and closes its sockets.
    @Test func releasingTheClientCompletesOutstandingQueries() throws {
        let server = try FakeDNSServer(["slow.example.com": .silent])
        let completions = Completions()
        do {
            let client = try DNSClient(configuration: .init(nameservers: [DNSNameserver(server.address)], timeout: 10))
            for _ in 0..<10 {
                client.query("slow.example.com", type: .txt, deadline: .now() + .seconds(30)) { completions.add($0) }
            }
            #expect(Self.waitUntil(seconds: 5) { server.totalQueries >= 10 })
        }
        let results = completions.wait(for: 10, seconds: 5)
        #expect(results == Array(repeating: .temporaryFailure(.shutDown), count: 10))
    }

    /// Queries from many threads at once each get their own answer.
    @Test func queriesFromManyThreadsAtOnceEachGetTheirAnswer() throws {
        var table: [String: FakeDNSServer.Answer] = [:]
        for i in 0..<50 { table["n\(i).example.com"] = .txt([["record \(i)"]]) }
        let server = try FakeDNSServer(table)
        let client = try DNSClient(configuration: .init(nameservers: [DNSNameserver(server.address)]))
        let wrong = Completions()
        let all = Completions()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for i in 0..<50 {
                client.query("n\(i).example.com", type: .txt, deadline: .now() + .seconds(10)) { result in
                    if result != .answer(DNSAnswer(records: [.txt("record \(i)")], ttl: 300)) { wrong.add(result) }
                    all.add(result)
                }
            }
        }
        #expect(all.wait(for: 400, seconds: 20)?.count == 400)
        #expect(wrong.wait(for: 1, seconds: 0) == nil)
        #expect(client.outstandingQueries == 0)
    }
}
