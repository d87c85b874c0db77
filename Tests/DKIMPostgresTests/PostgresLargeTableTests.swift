import DKIMMilterCore
import DKIMTestSupport
import Foundation
import Testing
@testable import DKIMPostgres

/// A SigningTable of a large fleet: 100,000 rows. With an index on the key column (the
/// administrator's to make; `check` says when it is missing) a lookup stays as fast as in a table
/// of three rows.
@Suite(.sharedPostgres) struct PostgresLargeTableTests {
    var db: PostgresFixture { SharedPostgres.fixture! }

    func percentiles(_ count: Int, _ lookup: (Int) throws -> Void) rethrows -> (p50: Double, p99: Double) {
        var times: [Double] = []
        for i in 0..<count { times.append(try timed { try lookup(i) }.1) }
        times.sort()
        return (times[count / 2] * 1000, times[count * 99 / 100] * 1000)
    }

    @Test func aLookupInAHundredThousandRowsStaysFastWithAnIndexOnTheKeyColumn() throws {
        let (_, loading) = try timed {
            try db.server.psql("""
                CREATE TABLE fleet (pattern text NOT NULL, key_name text NOT NULL);
                INSERT INTO fleet SELECT 'user' || i || '@d' || (i % 1000) || '.example', 'key' || (i % 500)
                    FROM generate_series(1, 100000) AS i;
                ANALYZE fleet;
                GRANT SELECT ON fleet TO dkim;
                """, database: db.database)
        }
        let fleet = try db.dataset(db.socketDSN("table=fleet?keycol=pattern?datacol=key_name"))
        let key = { (i: Int) -> String in let n = 1 + (i * 7919) % 100000; return "user\(n)@d\(n % 1000).example" }
        #expect(try fleet.get(key(1), deadline: after(5)) == ["key\((1 + 7919) % 500)"])

        let notes = try fleet.check(deadline: after(5))
        #expect(notes.count == 1 && notes[0].contains("CREATE INDEX ON fleet (pattern)"))
        let scanning = try percentiles(20) { i in _ = try fleet.get(key(i), deadline: after(5)) }

        try db.server.psql("CREATE INDEX ON fleet (pattern); ANALYZE fleet;", database: db.database)
        #expect(try fleet.check(deadline: after(5)) == [])
        let indexed = try percentiles(1000) { i in
            let n = 1 + (i * 7919) % 100000
            let answer = try fleet.get(key(i), deadline: after(5))
            #expect(answer == ["key\(n % 500)"])
        }
        let absent = try percentiles(200) { i in
            let answer = try fleet.get("nobody\(i)@nowhere", deadline: after(5))
            #expect(answer == nil)
        }
        let (all, reading) = try timed { try fleet.rows(limit: nil, deadline: after(30)) }
        #expect(all.count == 100_000)
        #expect(try fleet.rows(limit: 10, deadline: after(5)).count == 10)

        print("postgres 100k rows: loaded in " + String(format: "%.2f s", loading)
            + "; lookup without an index p50 " + String(format: "%.2f ms", scanning.p50)
            + ", with one p50 " + String(format: "%.3f ms", indexed.p50)
            + " p99 " + String(format: "%.3f ms", indexed.p99)
            + " (absent key p50 " + String(format: "%.3f ms", absent.p50) + "); all rows read in "
            + String(format: "%.2f s", reading))
        #expect(indexed.p50 < 2, "p50 \(indexed.p50) ms")
        #expect(indexed.p50 < scanning.p50)
    }
}
