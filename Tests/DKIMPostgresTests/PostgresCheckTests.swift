import DKIMMilterCore
import DKIMTestSupport
import Foundation
import Glibc
import Testing
@testable import DKIMPostgres

/// What `--check-config` says of a PostgreSQL dataset: one line per problem, never the password.
@Suite(.sharedPostgres) struct PostgresCheckTests {
    var db: PostgresFixture { SharedPostgres.fixture! }

    func checkError(_ text: String, seconds: Double = 5) throws -> DatasetError {
        let dataset = try db.dataset(text)
        let error = try #require(datasetError { () throws(DatasetError) in
            _ = try dataset.check(deadline: after(seconds))
        })
        #expect(!error.message.contains(db.password) && !error.message.contains("w/rd"), "never the password")
        #expect(!error.message.contains("\n"), "one line")
        return error
    }

    @Test func aWorkingTableChecksCleanly() throws {
        for text in [db.tcpDSN(PostgresFixture.keyTablePart), db.socketDSN(PostgresFixture.signingTablePart),
                     db.tcpDSN("table=dkim?keycol=id?datacol=domain_name,selector,private_key_path")] {
            #expect(try db.dataset(text).check(deadline: after(5)) == [])
        }
    }

    @Test func aWrongPasswordSaysTheLoginWasRefusedAndWhereThePasswordCameFrom() throws {
        let error = try checkError(db.tcpDSN(PostgresFixture.keyTablePart, password: "not-the-password"))
        #expect(error.message == "PostgreSQL at 127.0.0.1 port \(db.server.port) refused the login: password "
            + "authentication failed for user \"dkim\" (the password from the DSN was refused)")
        #expect(!error.message.contains("not-the-password"))
        #expect(!error.isTemporary)
    }

    @Test func aPortWithNoServerIsConnectionRefused() throws {
        guard let (fd, port) = LoopbackSocket.bound(.tcp) else { Issue.record("no port"); return }
        close(fd)
        let error = try checkError("dsn:pgsql://dkim:x@\(port)+127.0.0.1/keys/" + PostgresFixture.keyTablePart)
        #expect(error.message == "cannot connect to PostgreSQL at 127.0.0.1 port \(port): connection refused (is the "
            + "server running and accepting TCP connections there?)")
        #expect(error.isTemporary)
    }

    @Test func aSocketDirectoryWithNoServerSaysSo() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let error = try checkError("pgsql:host=\(dir) dbname=keys " + "table=t keycol=k datacol=d")
        #expect(error.message == "cannot connect to PostgreSQL at socket \(dir)/.s.PGSQL.5432: no server listens on "
            + "that socket (is it running, with unix_socket_directories naming that directory?)")
    }

    /// A listener that never answers (a server hung, a firewall that accepts and drops).
    @Test func aServerThatNeverAnswersTimesOutAtTheDeadline() throws {
        guard let (fd, port) = LoopbackSocket.bound(.tcp) else { Issue.record("no port"); return }
        defer { close(fd) }
        listen(fd, 16)
        let text = "dsn:pgsql://dkim:x@\(port)+127.0.0.1/keys/" + PostgresFixture.keyTablePart
        let (error, seconds) = try timed { try checkError(text, seconds: 1) }
        #expect(error.message.hasPrefix("cannot connect to PostgreSQL at 127.0.0.1 port \(port): no answer within 1."))
        #expect(error.message.hasSuffix(" s (timed out)"))
        #expect(error.isTemporary)
        #expect(seconds >= 0.9 && seconds < 3, "\(seconds) s")
    }

    @Test func aMissingDatabaseIsNamed() throws {
        let text = db.tcpDSN(PostgresFixture.keyTablePart).replacingOccurrences(of: "/keys/", with: "/nokeys/")
        let error = try checkError(text)
        #expect(error.message == "PostgreSQL at 127.0.0.1 port \(db.server.port): database \"nokeys\" does not exist")
        #expect(!error.isTemporary)
    }

    @Test func aMissingTableIsNamed() throws {
        let error = try checkError(db.tcpDSN("table=keytable?keycol=name?datacol=domain,selector,private_key"))
        #expect(error.message == "PostgreSQL at 127.0.0.1 port \(db.server.port), database keys: there is no table "
            + "or view keytable (in the schemas of the search_path)")
        #expect(!error.isTemporary)
        // A lookup says as much, and it is no outage.
        let lookup = try db.dataset(db.tcpDSN("table=keytable?keycol=name?datacol=domain"))
        let failed = datasetError { () throws(DatasetError) in _ = try lookup.get("x", deadline: after(5)) }
        #expect(failed?.message.contains("relation \"keytable\" does not exist") == true)
        #expect(failed?.isTemporary == false)
        #expect(lookup.pool.outageReason == nil)
    }

    @Test func aMissingColumnIsNamedWithTheColumnsThatExist() throws {
        let error = try checkError(db.tcpDSN("table=key_table?keycol=name?datacol=domain,selector,privatekey"))
        #expect(error.message == "PostgreSQL at 127.0.0.1 port \(db.server.port), database keys: table key_table "
            + "has no column privatekey (its columns: name, domain, selector, private_key)")
        let two = try checkError(db.tcpDSN("table=dkim?keycol=ID?datacol=\"Domain_Name\",selector,key"))
        #expect(two.message.hasSuffix("view dkim has no columns \"Domain_Name\", key (its columns: id, domain_name, "
            + "private_key_path, selector)"))
    }

    @Test func aTableTheUserMayNotReadSaysWhichGrantIsMissing() throws {
        try db.server.psql("CREATE TABLE IF NOT EXISTS private_keys (name text, k text);", database: db.database)
        let error = try checkError(db.tcpDSN("table=private_keys?keycol=name?datacol=k"))
        #expect(error.message == "PostgreSQL at 127.0.0.1 port \(db.server.port), database keys: permission denied "
            + "for table private_keys (GRANT SELECT ON the table TO dkim)")
        #expect(!error.isTemporary)
    }

    @Test func aKeyColumnWithoutAnIndexIsNoted() throws {
        try db.server.psql("""
            CREATE TABLE IF NOT EXISTS unindexed (pattern text, key_name text);
            GRANT SELECT ON unindexed TO dkim;
            """, database: db.database)
        let notes = try db.dataset(db.socketDSN("table=unindexed?keycol=pattern?datacol=key_name"))
            .check(deadline: after(5))
        #expect(notes == ["PostgreSQL at socket \(db.server.socketDirectory)/.s.PGSQL.\(db.server.port), database "
            + "keys: no index begins with unindexed's key column pattern, so every lookup reads the whole table; "
            + "make one: CREATE INDEX ON unindexed (pattern)"])
    }
}
