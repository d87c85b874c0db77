import DKIMMilterCore
import DKIMTestSupport
import Foundation
import Glibc
import Testing
@testable import DKIMPostgres

/// A slow server, a crashed one, a hung one: every lookup returns by its deadline, a slow query
/// holds up no other, and an outage is reported once and ends by itself.
@Suite struct PostgresOutageTests {
    static let quickBackoff = PostgresBackoff(initial: .milliseconds(200), maximum: .milliseconds(500))


    @Test func aSlowQueryFailsTemporarilyAtItsDeadlineAndDelaysNoOtherLookup() throws {
        let db = try PostgresFixture()
        try db.server.psql("""
            CREATE VIEW slow_signing AS SELECT s.pattern, s.key_name FROM signing_table s, (SELECT pg_sleep(30)) AS z;
            GRANT SELECT ON slow_signing TO dkim;
            """, database: db.database)
        let outages = Recorder<PostgresOutage>()
        let pool = PostgresPool(try PostgresDSN(parsing: db.tcpDSN(PostgresFixture.signingTablePart)).connection,
                                size: 4, onOutage: outages.record)
        let slow = PostgresDataset(try PostgresDSN(parsing: db.tcpDSN("table=slow_signing?keycol=pattern"
            + "?datacol=key_name")), pool: pool)
        let fast = PostgresDataset(try PostgresDSN(parsing: db.tcpDSN(PostgresFixture.signingTablePart)), pool: pool)
        _ = try fast.get("*", deadline: after(5))

        let slowResults = Recorder<(DatasetError?, Double)>()
        let fastTimes = Recorder<Double>()
        let fastFailures = Recorder<String>()
        inParallel(3) { i in
            if i < 2 {
                let (error, seconds) = timed {
                    datasetError { () throws(DatasetError) in _ = try slow.get("*@example.com", deadline: after(1)) }
                }
                slowResults.record((error, seconds))
            } else {
                usleep(100_000) // both slow queries are running
                let end = Date().addingTimeInterval(0.8)
                while Date() < end {
                    let (answer, seconds) = timed { try? fast.get("*@example.com", deadline: after(5)) }
                    if answer != ["example.com-2026"] { fastFailures.record("no answer") }
                    fastTimes.record(seconds)
                }
            }
        }
        for (error, seconds) in slowResults.events {
            #expect(error?.isTemporary == true)
            #expect(error?.message.contains("gave no answer within 1.0 s (the query was cancelled)") == true,
                    "\(String(describing: error))")
            #expect(seconds >= 0.95 && seconds < 2.5, "\(seconds) s")
        }
        #expect(slowResults.events.count == 2)
        #expect(fastFailures.events.isEmpty)
        #expect(fastTimes.events.count > 20, "lookups kept being answered while the slow ones waited")
        #expect(fastTimes.events.max() ?? 9 < 0.5, "the slowest fast lookup: \(fastTimes.events.max() ?? 0) s")
        #expect(outages.events.isEmpty, "a slow query is no outage")
        #expect(pool.outageReason == nil)
        // The timed-out queries were cancelled on the server, not left sleeping.
        let cancelled = Recorder<String>()
        cancelled.wait(5) { _ in
            (try? db.server.psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%slow_signing%' "
                + "AND state = 'active' AND pid <> pg_backend_pid()")) == "0"
        }
        #expect(try db.server.psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%slow_signing%' "
            + "AND state = 'active' AND pid <> pg_backend_pid()") == "0")
    }

    @Test(arguments: ["tcp", "socket"])
    func aCrashedServerFailsLookupsFastReportsOneOutageAndThePoolReconnectsAfterTheRestart(via: String) throws {
        let db = try PostgresFixture()
        let outages = Recorder<PostgresOutage>()
        let text = via == "tcp" ? db.tcpDSN(PostgresFixture.signingTablePart)
            : db.socketDSN(PostgresFixture.signingTablePart)
        let signing = try db.dataset(text, poolSize: 4, backoff: Self.quickBackoff, onOutage: outages.record)
        inParallel(4) { _ in _ = try? signing.get("*", deadline: after(5)) } // open the connections

        db.server.kill()
        let failures = Recorder<(DatasetError?, Double)>()
        let (_, total) = timed {
            inParallel(4) { _ in
                for _ in 0..<10 {
                    failures.record(timed {
                        datasetError { () throws(DatasetError) in _ = try signing.get("*", deadline: after(3)) }
                    })
                }
            }
        }
        #expect(failures.events.count == 40)
        #expect(failures.events.allSatisfy { $0.0?.isTemporary == true })
        let slowest = failures.events.map(\.1).max() ?? 0
        #expect(slowest < 1, "the slowest failed lookup took \(slowest) s (the deadline was 3 s)")
        #expect(total < 3, "40 lookups failed in \(total) s")
        print("postgres killed (\(via)): 40 lookups failed in "
            + String(format: "%.3f s, the slowest %.3f s", total, slowest))
        #expect(outages.wait(2) { $0.count == 1 })
        guard case .began(let reason) = outages.events.first else { Issue.record("no outage began"); return }
        #expect(reason.contains(via == "tcp" ? "connection refused" : "no server listens"), "\(reason)")
        #expect(signing.pool.outageReason != nil)

        try db.server.start()
        let back = Date().addingTimeInterval(10)
        var answer: [String]?
        while answer == nil, Date() < back {
            answer = try? signing.get("*", deadline: after(3))
            if answer == nil { usleep(50_000) }
        }
        #expect(answer == ["example.com-2026"])
        #expect(outages.wait(2) { $0.count == 2 })
        #expect(outages.events.count == 2, "one beginning, one end: \(outages.events)")
        if case .ended = outages.events.last {} else { Issue.record("the outage did not end: \(outages.events)") }
        #expect(signing.pool.outageReason == nil)
        #expect(try signing.get("alice@other.example", deadline: after(3)) == ["other-ed"])
    }

    /// Backoff: while the server is down, one connection attempt per interval, whatever the load.
    @Test func aDownServerSeesOneConnectionAttemptPerBackoffIntervalNotOnePerLookup() throws {
        guard let (fd, port) = LoopbackSocket.bound(.tcp) else { Issue.record("no port"); return }
        defer { close(fd) }
        listen(fd, 64)
        let outages = Recorder<PostgresOutage>()
        let dataset = try PostgresFixtureless.dataset(port: port, backoff: PostgresBackoff(initial: .milliseconds(400),
                                                                                           maximum: .seconds(5)),
                                                      onOutage: outages.record)
        // Every connection attempt shows as one pending connection on the listener, never answered.
        let (_, seconds) = timed {
            inParallel(4) { _ in
                let end = Date().addingTimeInterval(1.5)
                while Date() < end {
                    _ = datasetError { () throws(DatasetError) in _ = try dataset.get("k", deadline: after(0.3)) }
                    usleep(1_000)
                }
            }
        }
        var accepted = 0
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        while case let c = accept(fd, nil, nil), c >= 0 { accepted += 1; close(c) }
        // One attempt (the other threads wait for it) timing out at 0.3 s, one 0.4–0.5 s later,
        // the next 0.8–1.0 s after that: 2, at most 3 attempts in 1.5 s, not hundreds.
        print("postgres down: \(accepted) connection attempts in \(String(format: "%.1f", seconds)) s of lookups "
            + "from 4 threads")
        #expect(accepted >= 1 && accepted <= 3, "\(accepted) connection attempts in \(seconds) s")
        #expect(outages.events.count == 1)
    }

    /// A hung server (SIGSTOP): the lookups in flight wait their deadline, the next ones fail fast.
    @Test func aHungServerHoldsOnlyTheLookupsAlreadyWaitingAndTheRestFailFast() throws {
        let db = try PostgresFixture()
        let outages = Recorder<PostgresOutage>()
        let signing = try db.dataset(db.tcpDSN(PostgresFixture.signingTablePart), poolSize: 2,
                                     backoff: PostgresBackoff(initial: .seconds(5), maximum: .seconds(10)),
                                     onOutage: outages.record)
        _ = try signing.get("*", deadline: after(5))
        db.server.freeze()
        defer { db.server.resume() }
        let times = Recorder<Double>()
        let failures = Recorder<Bool>()
        inParallel(4) { _ in
            for _ in 0..<5 {
                let (error, seconds) = timed {
                    datasetError { () throws(DatasetError) in _ = try signing.get("*", deadline: after(0.5)) }
                }
                times.record(seconds)
                failures.record(error?.isTemporary == true)
            }
        }
        let waited = times.events.filter { $0 >= 0.4 }.count
        print("postgres hung: \(waited) of 20 lookups waited for their deadline, the slowest of the others "
            + String(format: "%.3f s", times.events.filter { $0 < 0.4 }.max() ?? 0))
        #expect(times.events.count == 20)
        #expect(failures.events.allSatisfy { $0 }, "every lookup failed, temporarily")
        // At most the first round, one lookup per thread: the query on the pooled connection, a
        // connection attempt, and the threads waiting for one of the two; when they time out the
        // outage begins and everything after fails at once.
        #expect(waited <= 4, "\(waited) of 20 lookups waited for their deadline: \(times.events)")
        #expect(outages.wait(2) { $0.count == 1 })
    }
}

/// A dataset pointing at a port where no PostgreSQL answers.
enum PostgresFixtureless {
    static func dataset(port: Int, backoff: PostgresBackoff,
                        onOutage: @escaping @Sendable (PostgresOutage) -> Void) throws -> PostgresDataset {
        PostgresDataset(try PostgresDSN(parsing: "dsn:pgsql://dkim:x@\(port)+127.0.0.1/keys/"
            + PostgresFixture.signingTablePart), poolSize: 4, backoff: backoff, onOutage: onOutage)
    }
}
