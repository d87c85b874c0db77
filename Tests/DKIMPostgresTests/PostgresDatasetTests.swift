import DKIMMilterCore
import DKIMTestSupport
import Foundation
import Testing
@testable import DKIMPostgres

/// Lookups against a real PostgreSQL, through OpenDKIM's DSN strings as they are written for
/// OpenDKIM and through our connection strings.
@Suite(.sharedPostgres) struct PostgresDatasetTests {
    var db: PostgresFixture { SharedPostgres.fixture! }

    @Test func readsAKeyTableAndASigningTableOverTheSocket() throws {
        let keys = try db.dataset(db.socketDSN(PostgresFixture.keyTablePart))
        let signing = try db.dataset(db.socketDSN(PostgresFixture.signingTablePart))
        #expect(try keys.get("example.com-2026", deadline: after(5))
            == ["example.com", "s2026", "/etc/dkimkeys/example.com.pem"])
        #expect(try signing.get("*@example.com", deadline: after(5)) == ["example.com-2026"])
        #expect(try signing.get("alice@other.example", deadline: after(5)) == ["other-ed"])
        #expect(try signing.get("*", deadline: after(5)) == ["example.com-2026"])
        #expect(try signing.get("bob@other.example", deadline: after(5)) == nil)
        #expect(try keys.get("EXAMPLE.COM-2026", deadline: after(5)) == nil, "compared as the column compares")
    }

    @Test func readsTheSameTablesOverTCPWithTheEscapedPasswordInTheDSN() throws {
        let keys = try db.dataset(db.tcpDSN(PostgresFixture.keyTablePart))
        #expect(keys.dsn.connection.password?.value == db.password)
        #expect(try keys.get("other-ed", deadline: after(5)) == ["other.example", "ed1", "/etc/dkimkeys/other.pem"])
    }

    /// Modoboa's opendkim.conf lines, unchanged but for the values its installer fills in.
    @Test func readsModoboasViewThroughItsOpenDKIMLines() throws {
        let prefix = db.tcpDSN("")
        let keyTable = try db.dataset(prefix + "table=dkim?keycol=id?datacol=domain_name,selector,private_key_path")
        let signingTable = try db.dataset(prefix + "table=dkim?keycol=domain_name?datacol=id")
        let id = try #require(try signingTable.get("modoboa.example", deadline: after(5)))
        #expect(id == ["1"])
        #expect(try keyTable.get(id[0], deadline: after(5))
            == ["modoboa.example", "modo", "/var/lib/dkim/modoboa.example.pem"])
        #expect(try signingTable.get("nodkim.example", deadline: after(5)) == nil, "enable_dkim is false")
        #expect(try keyTable.get("2", deadline: after(5)) == nil)
        // The key store asks a KeyTable keyed by an integer for names too: no row, not an error.
        #expect(try keyTable.get("modoboa.example", deadline: after(5)) == nil)
    }

    @Test func readsThePasswordFromAFileOfMode0600AndRefusesOneOfMode0644() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let path = dir + "/pg.pass"
        try (db.password + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let text = "pgsql:host=127.0.0.1 port=\(db.server.port) dbname=\(db.database) user=\(db.user) "
            + "sslmode=disable passwordfile=\(path) table=key_table keycol=name datacol=domain,selector,private_key"
        chmod(path, 0o600)
        #expect(try db.dataset(text).get("other-ed", deadline: after(5))?.first == "other.example")
        chmod(path, 0o644)
        let refused = datasetError { () throws(DatasetError) in _ = try PostgresDSN(parsing: text) }
        #expect(refused?.message == "the password file \(path) can be read or written by other users (mode 644); "
            + "fix it with: chmod 600 \(path)")
        #expect(refused?.isTemporary == false)
    }

    @Test func aNullValueIsAnEmptyString() throws {
        let keys = try db.dataset(db.socketDSN(PostgresFixture.keyTablePart))
        #expect(try keys.get("nulls", deadline: after(5)) == ["null.example", "", ""])
    }

    @Test func theFirstOfTwoRowsWithOneKeyAnswersAndIsReported() throws {
        let reports = Recorder<PostgresBadRow>()
        let signing = try db.dataset(db.socketDSN(PostgresFixture.signingTablePart), onBadRow: reports.record)
        let answer = try #require(try signing.get("twice.example", deadline: after(5)))
        #expect(answer == ["first"] || answer == ["second"])
        #expect(reports.events.map(\.key) == ["twice.example"])
        #expect(reports.events.first?.description.contains("more than one row of signing_table") == true)
        _ = try signing.get("*@example.com", deadline: after(5))
        #expect(reports.events.count == 1)
    }

    @Test func aKeyIsAParameterNeverSQL() throws {
        let signing = try db.dataset(db.socketDSN(PostgresFixture.signingTablePart))
        for key in ["' OR '1'='1", "x'; DROP TABLE signing_table; --", "\\", "Ünïcödé@exämple.com", "a\"b"] {
            #expect(try signing.get(key, deadline: after(5)) == nil)
        }
        #expect(try signing.get("*", deadline: after(5)) != nil, "the table is still there")
    }

    @Test func aFilterNarrowsEveryLookup() throws {
        let signing = try db.dataset(db.socketDSN(PostgresFixture.signingTablePart
            + "?filter=key_name=3D'other-ed'"))
        #expect(try signing.get("alice@other.example", deadline: after(5)) == ["other-ed"])
        #expect(try signing.get("*@example.com", deadline: after(5)) == nil)
    }

    @Test func readsTheRowsWholeOrASample() throws {
        let keys = try db.dataset(db.socketDSN(PostgresFixture.keyTablePart))
        let all = try keys.rows(limit: nil, deadline: after(5)).sorted { $0.key < $1.key }
        #expect(all.map(\.key) == ["example.com-2026", "nulls", "other-ed"])
        #expect(all[1] == PostgresRow(key: "nulls", values: ["null.example", "", ""]))
        #expect(try keys.rows(limit: 2, deadline: after(5)).count == 2)
    }

    /// Warm lookups, one thread: the figures the README quotes.
    @Test func warmLookupsTakeWellUnderAMillisecond() throws {
        for (name, text) in [("socket", db.socketDSN(PostgresFixture.signingTablePart)),
                             ("tcp", db.tcpDSN(PostgresFixture.signingTablePart))] {
            let signing = try db.dataset(text)
            for _ in 0..<50 { _ = try signing.get("*@example.com", deadline: after(5)) }
            var times: [Double] = []
            for i in 0..<2000 {
                let key = i % 2 == 0 ? "*@example.com" : "nobody@nowhere"
                let (_, t) = try timed { try signing.get(key, deadline: after(5)) }
                times.append(t)
            }
            times.sort()
            let p50 = times[times.count / 2] * 1e6, p99 = times[times.count * 99 / 100] * 1e6
            print("postgres lookup over \(name): p50 \(Int(p50)) µs, p99 \(Int(p99)) µs")
            #expect(p50 < 5_000, "p50 \(p50) µs over \(name)")
        }
    }
}
