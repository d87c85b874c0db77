import DKIMMilterCore
import DKIMTestSupport
import Foundation
import Testing
@testable import DKIMPostgres

/// OpenDKIM's dsn:pgsql:// as OpenDKIM 2.11 reads it, and our pgsql: connection-string form.
@Suite struct PostgresDSNTests {
    func parse(_ text: String) throws -> PostgresDSN { try PostgresDSN(parsing: text) }

    func error(_ text: String) -> String {
        do {
            _ = try PostgresDSN(parsing: text)
            return ""
        } catch {
            return error.message
        }
    }

    /// Modoboa's opendkim.conf template with its values filled in (modoboa-installer).
    @Test func readsModoboasKeyTableAndSigningTable() throws {
        let keys = try parse("dsn:pgsql://opendkim:s3cret@5432+127.0.0.1/modoboa/table=dkim?keycol=id"
            + "?datacol=domain_name,selector,private_key_path")
        #expect(keys.syntax == .openDKIM)
        #expect(keys.connection.parameters["host"] == "127.0.0.1")
        #expect(keys.connection.parameters["port"] == "5432")
        #expect(keys.connection.parameters["dbname"] == "modoboa")
        #expect(keys.connection.parameters["user"] == "opendkim")
        #expect(keys.connection.password?.value == "s3cret")
        #expect(keys.table.parts == ["dkim"])
        #expect(keys.keyColumn.parts == ["id"])
        #expect(keys.dataColumns.map(\.parts) == [["domain_name"], ["selector"], ["private_key_path"]])
        let signing = try parse("dsn:pgsql://opendkim:s3cret@5432+127.0.0.1/modoboa/table=dkim?keycol=domain_name"
            + "?datacol=id")
        #expect(signing.keyColumn.parts == ["domain_name"])
        #expect(signing.dataColumns.map(\.parts) == [["id"]])
        #expect(signing.connection == keys.connection, "one pool serves both tables")
    }

    /// README.SQL's examples (mysql there) with the pgsql backend: no port, a host name.
    @Test func readsTheReadmeSQLExamplesWithoutPort() throws {
        let dsn = try parse("dsn:pgsql://USER:PASSWORD@SERVER/DBNAME/table=dkim_signing?keycol=author?datacol=dkim_id")
        #expect(dsn.connection.parameters["host"] == "SERVER")
        #expect(dsn.connection.parameters["port"] == nil)
        #expect(dsn.connection.parameters["user"] == "USER")
        #expect(dsn.table.parts == ["dkim_signing"])
        #expect(dsn.keyColumn.parts == ["author"])
    }

    @Test func userAndPasswordAreOptional() throws {
        let dsn = try parse("dsn:pgsql://db.example.com/keys/table=k?keycol=name?datacol=d,s,k")
        #expect(dsn.connection.parameters["user"] == nil)
        #expect(dsn.connection.password == nil)
        let userOnly = try parse("dsn:pgsql://dkim@db.example.com/keys/table=k?keycol=name?datacol=d,s,k")
        #expect(userOnly.connection.parameters["user"] == "dkim")
        #expect(userOnly.connection.password == nil)
    }

    @Test func parameterNamesAreCaseInsensitiveAndEmptyPairsSkipped() throws {
        let dsn = try parse("dsn:pgsql://h/db/TABLE=k??KeyCol=name?DATACOL=a,b?")
        #expect(dsn.table.parts == ["k"])
        #expect(dsn.dataColumns.count == 2)
    }

    @Test func namesFoldToLowerCaseUnlessQuotedAsPostgreSQLReadsThem() throws {
        let dsn = try parse(#"dsn:pgsql://h/db/table=Mail.DKIM?keycol="DomainName"?datacol=Id, "Sel,ector" ,x"#)
        #expect(dsn.table.parts == ["mail", "dkim"])
        #expect(dsn.keyColumn.parts == ["DomainName"])
        #expect(dsn.dataColumns.map(\.parts) == [["id"], ["Sel,ector"], ["x"]])
    }

    @Test func expressionsInDatacolAreRefused() {
        #expect(error("dsn:pgsql://h/db/table=k?keycol=id?datacol=a,concat(b,c)")
            .contains("not a list of column names"))
    }

    /// "encode them in quoted-printable style" (opendkim(8)): the delimiters and the space.
    @Test func decodesEscapedDelimitersInValues() throws {
        let dsn = try parse("dsn:pgsql://dk=40im:p=3Aa=2Fs=40s=2Bw=3Fo=3Dr=20d@5432+=2Frun=2Fpostgresql/keys"
            + "/table=dkim?keycol=id?datacol=a")
        #expect(dsn.connection.parameters["user"] == "dk@im")
        #expect(dsn.connection.password?.value == "p:a/s@s+w?o=r d")
        #expect(dsn.connection.parameters["host"] == "/run/postgresql")
        #expect(dsn.connection.server == "socket /run/postgresql/.s.PGSQL.5432")
    }

    /// OpenDKIM 2.11 passes other =XX through unchanged (Debian 12's opendkim logs in with the
    /// password "ab=de" written as it is), and so do we.
    @Test func keepsOtherEqualsHexSequencesAsOpenDKIMDoes() throws {
        let dsn = try parse("dsn:pgsql://dkim:ab=de=41@h/db/table=k?keycol=id?datacol=a")
        #expect(dsn.connection.password?.value == "ab=de=41")
    }

    @Test func decodesTheWholeFilterAsOpenDKIMDoes() throws {
        let dsn = try parse("dsn:pgsql://h/db/table=k?keycol=id?datacol=a?filter=active=3Dtrue=20AND=20id=3E1000")
        #expect(dsn.filter == "active=true AND id>1000")
    }

    @Test(arguments: [
        ("dsn:mysql://u:p@h/db/table=k?keycol=id?datacol=a", "dkim-milter reads PostgreSQL only"),
        ("dsn:pgsql:/h/db/table=k?keycol=id?datacol=a", "no // after dsn:pgsql:"),
        ("dsn:pgsql://u:p@", "names no host"),
        ("dsn:pgsql:///db/table=k?keycol=id?datacol=a", "unexpected \"=\""),
        ("dsn:pgsql://u:p:q@h/db/table=k?keycol=id?datacol=a", "escape it in a password as =3A"),
        ("dsn:pgsql://u:p?q@h/db/table=k?keycol=id?datacol=a", "escape it as =3F"),
        ("dsn:pgsql://u:p@h", "no /DATABASE/ and table part"),
        ("dsn:pgsql://u:p@h/db", "no /DATABASE/ and table part"),
        ("dsn:pgsql://u:p@h/db/keycol=id?datacol=a", "no table="),
        ("dsn:pgsql://u:p@h/db/table=k?datacol=a", "no keycol="),
        ("dsn:pgsql://u:p@h/db/table=k?keycol=id", "no datacol="),
        ("dsn:pgsql://u:p@h/db/table=k?keycolumn=id?datacol=a", "unknown DSN parameter \"keycolumn\""),
        ("dsn:pgsql://u:p@54x2+h/db/table=k?keycol=id?datacol=a", "the port 54x2 is not a number"),
    ])
    func refusesAMalformedDSNSayingWhy(dsn: String, why: String) {
        let message = error(dsn)
        #expect(message.contains(why), "\(message)")
        #expect(!message.contains(":p@") && !message.contains("p:q"), "never the password")
    }

    @Test func theDescriptionNeverShowsThePassword() throws {
        let dsn = try parse("dsn:pgsql://dkim:Sup3rS3cret@5432+127.0.0.1/keys/table=dkim?keycol=id?datacol=a,b,c")
        let dataset = PostgresDataset(dsn)
        var dumped = ""
        dump(dsn, to: &dumped)
        for text in [dsn.description, String(reflecting: dsn), "\(dsn)", dumped, dataset.description,
                     "\(dsn.connection)", String(reflecting: dsn.connection)] {
            #expect(!text.contains("Sup3rS3cret"), "\(text)")
        }
        #expect(dsn.description == "table dkim (key id; values a, b, c) in PostgreSQL at 127.0.0.1 port 5432, "
            + "database keys, user dkim, password from the DSN")
    }

    // MARK: pgsql: connection strings

    @Test func readsAConnectionStringWithLibpqsQuoting() throws {
        let dsn = try parse(#"pgsql:host=/run/postgresql  dbname = 'my keys' user=dkim sslmode=disable "#
            + #"application_name='it\'s me' table=dkim keycol=id datacol=domain_name,selector,private_key_path"#)
        #expect(dsn.syntax == .connectionString)
        #expect(dsn.connection.parameters["host"] == "/run/postgresql")
        #expect(dsn.connection.parameters["dbname"] == "my keys")
        #expect(dsn.connection.parameters["sslmode"] == "disable")
        #expect(dsn.connection.parameters["application_name"] == "it's me")
        #expect(dsn.connection.password == nil)
        #expect(dsn.dataColumns.count == 3)
    }

    @Test func readsThePasswordFromAFileOfMode0600() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let path = dir + "/pg.pass"
        try "the password\n".write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)
        let dsn = try parse("pgsql:host=127.0.0.1 port=5432 dbname=keys user=dkim passwordfile=\(path) "
            + "table=dkim keycol=id datacol=a")
        #expect(dsn.connection.password?.value == "the password")
        #expect(dsn.connection.password?.source == path)
        #expect(!dsn.description.contains("the password"))
        #expect(dsn.description.contains("password from \(path)"))
    }

    @Test(arguments: [0o644, 0o640, 0o604, 0o660])
    func refusesAPasswordFileOthersMayReadNamingThePathAndTheFix(mode: Int) throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let path = dir + "/pg.pass"
        try "secret-in-file\n".write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, mode_t(mode))
        for keyword in ["passwordfile", "passfile"] {
            let message = error("pgsql:host=h \(keyword)=\(path) table=t keycol=k datacol=d")
            #expect(message == "the password file \(path) can be read or written by other users (mode "
                + "\(String(mode, radix: 8))); fix it with: chmod 600 \(path)")
        }
    }

    @Test func refusesAMissingOrEmptyPasswordFileAndAnInlinePassword() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        #expect(error("pgsql:host=h passwordfile=\(dir)/none table=t keycol=k datacol=d")
            .contains("cannot be opened: No such file or directory"))
        let empty = dir + "/empty"
        FileManager.default.createFile(atPath: empty, contents: Data(), attributes: [.posixPermissions: 0o600])
        #expect(error("pgsql:host=h passwordfile=\(empty) table=t keycol=k datacol=d").contains("is empty"))
        let inline = error("pgsql:host=h password=hunter2 table=t keycol=k datacol=d")
        #expect(inline.contains("passwordfile=PATH") && !inline.contains("hunter2"))
    }

    @Test func refusesUnknownKeywordsAndMissingTableParts() {
        #expect(error("pgsql:hots=h table=t keycol=k datacol=d").contains("unknown keyword \"hots\""))
        #expect(error("pgsql:host=h keycol=k datacol=d") == "pgsql: no table=")
        #expect(error("pgsql:host=h table=t datacol=d") == "pgsql: no keycol=")
        #expect(error("pgsql:host=h table=t keycol=k") == "pgsql: no datacol=")
        #expect(error("pgsql:host=h dbname='unclosed table=t").contains("not closed"))
        #expect(error("pgsql:host table=t").contains("has no \"=\""))
    }

    @Test func recognisesBothSpellingsAndNothingElse() {
        #expect(PostgresDSN.isPostgres("dsn:pgsql://h/db/table=t?keycol=k?datacol=d"))
        #expect(PostgresDSN.isPostgres("pgsql:host=h"))
        #expect(!PostgresDSN.isPostgres("file:/etc/opendkim/KeyTable"))
        #expect(!PostgresDSN.isPostgres("refile:/etc/opendkim/SigningTable"))
        #expect(!PostgresDSN.isPostgres("dsn:mysql://h/db/table=t?keycol=k?datacol=d"))
    }
}
