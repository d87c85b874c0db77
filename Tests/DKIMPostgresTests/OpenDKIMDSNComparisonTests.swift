import DKIMMilterCore
import DKIMTestSupport
import Foundation
import Testing
@testable import DKIMPostgres

/// The same DSN lines given to Debian's OpenDKIM (`opendkim -n` parses its configuration and opens
/// its KeyTable and SigningTable, logging in through OpenDBX's pgsql driver) and to us, against one
/// server: we accept and log in where OpenDKIM does, and differ only where our doc comment says.
@Suite(.sharedPostgres) struct OpenDKIMDSNComparisonTests {
    var db: PostgresFixture { SharedPostgres.fixture! }

    /// Whether OpenDKIM accepts `keyTable` and `signingTable` and logs in with them.
    func openDKIMAccepts(_ keyTable: String, _ signingTable: String) throws -> Bool {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let conf = dir + "/opendkim.conf"
        try """
            Syslog no
            KeyTable \(keyTable)
            SigningTable \(signingTable)
            Socket local:\(dir)/opendkim.sock
            """.write(toFile: conf, atomically: true, encoding: .utf8)
        let result = try ProcessRunner.run("/usr/sbin/opendkim", ["-n", "-x", conf], timeout: 30)
        return result.status == 0
    }

    /// Whether we accept them and a lookup works (the check connects and logs in).
    func weAccept(_ keyTable: String, _ signingTable: String) -> Bool {
        do {
            for text in [keyTable, signingTable] {
                _ = try PostgresDataset(try PostgresDSN(parsing: text)).check(deadline: after(5))
            }
            return true
        } catch {
            return false
        }
    }

    func lines(userInfo: String, host: String = "127.0.0.1", table: String = "key_table") -> (String, String) {
        let base = "dsn:pgsql://\(userInfo)@\(db.server.port)+\(host)/\(db.database)/"
        return (base + "table=\(table)?keycol=name?datacol=domain,selector,private_key",
                base + "table=signing_ok?keycol=pattern?datacol=key_name")
    }

    @Test func bothAcceptAndLogInWithThePlainLinesAndModoboas() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/sbin/opendkim"))
        try db.server.createRole("plain", password: "plainpass")
        try db.server.psql("GRANT SELECT ON ALL TABLES IN SCHEMA public TO plain;", database: db.database)
        let (keys, signing) = lines(userInfo: "plain:plainpass")
        #expect(try openDKIMAccepts(keys, signing))
        #expect(weAccept(keys, signing))
        let base = "dsn:pgsql://plain:plainpass@\(db.server.port)+127.0.0.1/\(db.database)/table=dkim"
        let modoboa = (base + "?keycol=id?datacol=domain_name,selector,private_key_path",
                       base + "?keycol=domain_name?datacol=id")
        #expect(try openDKIMAccepts(modoboa.0, modoboa.1))
        #expect(weAccept(modoboa.0, modoboa.1))
    }

    /// "ab=de": OpenDKIM keeps "=de" as it is (two hex digits after "="), and so do we.
    @Test func bothKeepAnEqualsSignFollowedByHexDigitsInAPassword() throws {
        try db.server.createRole("hexeq", password: "ab=de")
        try db.server.psql("GRANT SELECT ON ALL TABLES IN SCHEMA public TO hexeq;", database: db.database)
        let (keys, signing) = lines(userInfo: "hexeq:ab=de")
        #expect(try openDKIMAccepts(keys, signing))
        #expect(weAccept(keys, signing))
    }

    /// A ":" in a password: OpenDKIM cannot take it raw (EINVAL) and does not decode "=3A" in a
    /// password (it sends "pa=3Ass", which is refused); we refuse it raw too and decode "=3A".
    @Test func aDelimiterInAPasswordOnlyWorksEscapedAndOnlyHere() throws {
        try db.server.createRole("colon", password: "pa:ss")
        try db.server.psql("GRANT SELECT ON ALL TABLES IN SCHEMA public TO colon;", database: db.database)
        let raw = lines(userInfo: "colon:pa:ss")
        #expect(try !openDKIMAccepts(raw.0, raw.1))
        #expect(!weAccept(raw.0, raw.1))
        let escaped = lines(userInfo: "colon:pa=3Ass")
        #expect(try !openDKIMAccepts(escaped.0, escaped.1), "OpenDKIM 2.11 sends the escape as it is")
        #expect(weAccept(escaped.0, escaped.1), "opendkim(8)'s quoted-printable escape, decoded")
    }

    @Test func bothRefuseAWrongPasswordAMissingTableAndAHostAfterThePort() throws {
        let wrong = lines(userInfo: "\(db.user):wrong")
        #expect(try !openDKIMAccepts(wrong.0, wrong.1))
        #expect(!weAccept(wrong.0, wrong.1))
        try db.server.createRole("tables", password: "tablespass")
        try db.server.psql("GRANT SELECT ON ALL TABLES IN SCHEMA public TO tables;", database: db.database)
        let missing = lines(userInfo: "tables:tablespass", table: "no_such_table")
        #expect(try !openDKIMAccepts(missing.0, missing.1))
        #expect(!weAccept(missing.0, missing.1))
        let swapped = ("dsn:pgsql://u:p@127.0.0.1+\(db.server.port)/keys/table=t?keycol=k?datacol=d",
                       "dsn:pgsql://u:p@127.0.0.1+\(db.server.port)/keys/table=t?keycol=k?datacol=d")
        #expect(try !openDKIMAccepts(swapped.0, swapped.1))
        #expect(!weAccept(swapped.0, swapped.1))
    }
}
