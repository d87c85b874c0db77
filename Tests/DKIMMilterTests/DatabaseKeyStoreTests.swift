import DKIM
import DKIMOpenSSL
import DKIMTestSupport
import Foundation
import Glibc
import MilterClient
import Testing
@testable import DKIMMilter
@testable import DKIMMilterCore

/// Keys and signing tables in a real PostgreSQL (started by the test as nobody, on a unix socket
/// in a temporary directory and a loopback port), read by the milter as OpenDKIM's datasets.
@Suite(.serialized) struct DatabaseKeyStoreTests {
    /// A server with a KeyTable `key_table(name, domain, selector, private_key)` and a SigningTable
    /// `signing_table(pattern, key_name)`, the NOTIFY triggers, and a login role with a password.
    static func server(rows: Int = 0, keyPath: String) throws -> PostgresServer {
        let pg = try PostgresServer()
        try pg.createRole("dkim", password: "s3cret")
        try pg.createDatabase("mail", owner: "postgres")
        let notify = try String(contentsOfFile: Fixtures.repositoryRoot + "/contrib/postgresql/dkim-notify.sql",
                                encoding: .utf8)
        try pg.psql("""
            CREATE TABLE key_table (name text PRIMARY KEY, domain text, selector text, private_key text);
            CREATE TABLE signing_table (pattern text PRIMARY KEY, key_name text);
            GRANT SELECT ON key_table, signing_table TO dkim;
            \(notify)
            CREATE TRIGGER dkim_milter_notify AFTER INSERT OR UPDATE OR DELETE ON key_table
                FOR EACH ROW EXECUTE FUNCTION dkim_milter_notify('name');
            CREATE TRIGGER dkim_milter_notify AFTER INSERT OR UPDATE OR DELETE ON signing_table
                FOR EACH ROW EXECUTE FUNCTION dkim_milter_notify('pattern');
            INSERT INTO key_table SELECT 'k' || i, 'd' || i || '.example', 'sel', '\(keyPath)'
                FROM generate_series(1, \(rows)) AS i;
            INSERT INTO signing_table SELECT 'd' || i || '.example', 'k' || i FROM generate_series(1, \(rows)) AS i;
            """, database: "mail")
        return pg
    }

    /// The OpenDKIM DSN of a table over TCP with the password, and the connection-string form over
    /// the socket.
    static func tables(_ pg: PostgresServer, tcp: Bool = false) -> String {
        if tcp {
            return """
                KeyTable      dsn:pgsql://dkim:s3cret@\(pg.port)+127.0.0.1/mail/table=key_table?keycol=name\
                ?datacol=domain,selector,private_key
                SigningTable  dsn:pgsql://dkim:s3cret@\(pg.port)+127.0.0.1/mail/table=signing_table?keycol=pattern\
                ?datacol=key_name
                """
        }
        let conn = "host=\(pg.socketDirectory) port=\(pg.port) dbname=mail user=postgres"
        return """
            KeyTable      pgsql:\(conn) table=key_table keycol=name datacol=domain,selector,private_key
            SigningTable  pgsql:\(conn) table=signing_table keycol=pattern datacol=key_name
            """
    }

    static func keyFile(_ dir: String) throws -> String {
        let path = dir + "/k.pem"
        try FileManager.default.copyItem(atPath: Fixtures.corpus + "/keys/rsa2048a.pem", toPath: path)
        chmod(path, 0o600)
        return path
    }

    static func message(from domain: String) -> [UInt8] {
        Array(("From: a@\(domain)\r\nTo: b@example.org\r\nSubject: s\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n"
            + "\r\nbody\r\n").utf8)
    }

    /// Sends one message from an internal host; the reply and the selectors of the signatures added.
    static func send(_ milter: MilterProcess, from domain: String) throws -> (reply: Character, signatures: [String]) {
        let c = try MilterConnection(socket: milter.socket)
        try c.negotiate()
        _ = try c.connect(hostname: "localhost", address: "127.0.0.1")
        let r = try c.send(message: message(from: domain))
        let sigs = r.modifications.compactMap { m -> String? in
            if case .insertHeader(_, "DKIM-Signature", let v) = m { v } else { nil }
        }
        return (r.reply, sigs)
    }

    // MARK: -

    /// The same messages, the same keys: from files and from PostgreSQL, the same signatures.
    @Test func signaturesFromPostgreSQLEqualThoseFromFiles() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let key = try Self.keyFile(dir)
        let pg = try Self.server(rows: 3, keyPath: key)
        try "k1 d1.example:sel:\(key)\nk2 d2.example:sel:\(key)\n".write(toFile: dir + "/KeyTable", atomically: true,
                                                                          encoding: .utf8)
        try "d1.example k1\nd2.example k2\n".write(toFile: dir + "/SigningTable", atomically: true, encoding: .utf8)
        func policy(_ tables: String) throws -> MilterPolicy {
            try "\(tables)\nAuthservID mx.example.org\n".write(toFile: dir + "/c.conf", atomically: true,
                                                               encoding: .utf8)
            var warnings: [String] = []
            let c = try MilterConfiguration(file: dir + "/c.conf", warnings: &warnings)
            return try MilterSetup.policy(from: c, warnings: &warnings, now: { 1_764_000_000 })
        }
        let files = try policy("KeyTable \(dir)/KeyTable\nSigningTable \(dir)/SigningTable")
        let database = try policy(Self.tables(pg))
        #expect(database.lazyKeys != nil && files.lazyKeys == nil)
        for domain in ["d1.example", "d2.example"] {
            let (fromFiles, _) = MilterFixtures.run(MilterSession(policy: files), Self.message(from: domain))
            let (fromDatabase, _) = MilterFixtures.run(MilterSession(policy: database), Self.message(from: domain))
            #expect(!fromFiles.modifications.isEmpty)
            #expect(fromFiles == fromDatabase, "\(domain)")
        }
    }

    /// 100,000 domains: ready at once (nothing walked at start), memory bounded after signing for
    /// 1,000 of them, and a domain added while it runs signs within a second (NOTIFY).
    @Test func aHundredThousandDomainsStartAtOnceAndANewDomainSignsWithinASecond() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let key = try Self.keyFile(dir)
        let pg = try Self.server(rows: 100_000, keyPath: key)
        try "Mode s\nRequireSafeKeys no\nKeyCacheNegativeTTL 1h\n\(Self.tables(pg))\n"
            .write(toFile: dir + "/c.conf", atomically: true, encoding: .utf8)
        let started = Date()
        let milter = try MilterProcess(arguments: ["--config", dir + "/c.conf"], socket: "unix:\(dir)/m.sock")
        defer { milter.stop() }
        let ready = Date().timeIntervalSince(started)
        #expect(ready < 1, "ready after \(ready) s with 100,000 domains")
        for i in stride(from: 1, through: 100_000, by: 100) {
            let r = try Self.send(milter, from: "d\(i).example")
            #expect(r.signatures.count == 1, "d\(i).example: \(r)")
        }
        let status = try String(contentsOfFile: "/proc/\(milter.process.processIdentifier)/status", encoding: .utf8)
        let rss = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            .flatMap { Int($0.split(whereSeparator: { $0 == " " || $0 == "\t" })[1]) } ?? 0
        #expect(rss < 64 * 1024, "RSS \(rss) KB after signing for 1,000 domains")
        // Not yet in the tables (and remembered as having no key for an hour): NOTIFY makes it sign.
        #expect(try Self.send(milter, from: "new.example").signatures.isEmpty)
        try pg.psql("INSERT INTO key_table VALUES ('knew', 'new.example', 'sel', '\(key)'); "
            + "INSERT INTO signing_table VALUES ('new.example', 'knew');", database: "mail")
        let inserted = Date()
        var signed = false
        while !signed && Date().timeIntervalSince(inserted) < 5 {
            signed = try !Self.send(milter, from: "new.example").signatures.isEmpty
            if !signed { usleep(50_000) }
        }
        let after = Date().timeIntervalSince(inserted)
        #expect(signed && after < 1, "the new domain signed after \(after) s")
    }

    /// Without the NOTIFY triggers a change takes effect when the cached answer expires: a domain
    /// remembered as having no key signs once KeyCacheNegativeTTL has passed, not before.
    @Test func withoutNotifyANewDomainSignsWithinTheCacheTTL() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let key = try Self.keyFile(dir)
        let pg = try Self.server(rows: 1, keyPath: key)
        try pg.psql("DROP TRIGGER dkim_milter_notify ON key_table; DROP TRIGGER dkim_milter_notify ON signing_table;",
                    database: "mail")
        try "Mode s\nRequireSafeKeys no\nKeyCacheNegativeTTL 3s\n\(Self.tables(pg))\n"
            .write(toFile: dir + "/c.conf", atomically: true, encoding: .utf8)
        let milter = try MilterProcess(arguments: ["--config", dir + "/c.conf"], socket: "unix:\(dir)/m.sock")
        defer { milter.stop() }
        let asked = Date()
        #expect(try Self.send(milter, from: "new.example").signatures.isEmpty)
        try pg.psql("INSERT INTO key_table VALUES ('knew', 'new.example', 'sel', '\(key)'); "
            + "INSERT INTO signing_table VALUES ('new.example', 'knew');", database: "mail")
        // Within the TTL the cached "no key" still answers.
        usleep(500_000)
        if Date().timeIntervalSince(asked) < 2.5 {
            #expect(try Self.send(milter, from: "new.example").signatures.isEmpty)
        }
        var signed = false
        while !signed && Date().timeIntervalSince(asked) < 8 {
            signed = try !Self.send(milter, from: "new.example").signatures.isEmpty
            if !signed { usleep(100_000) }
        }
        let after = Date().timeIntervalSince(asked)
        #expect(signed && after >= 3 && after < 4.5, "signed after \(after) s with a TTL of 3 s")
    }

    /// PostgreSQL killed: cached domains keep signing, uncached ones get On-KeyStoreError
    /// (tempfail), one line in the log for the outage; back again, everything signs.
    @Test func withTheDatabaseDownCachedKeysSignAndTheRestIsDeferred() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let key = try Self.keyFile(dir)
        let pg = try Self.server(rows: 10, keyPath: key)
        try "Mode s\nRequireSafeKeys no\nKeyCacheTTL 1s\nKeyStoreTimeout 1\n\(Self.tables(pg, tcp: true))\n"
            .write(toFile: dir + "/c.conf", atomically: true, encoding: .utf8)
        let milter = try MilterProcess(arguments: ["--config", dir + "/c.conf"], socket: "unix:\(dir)/m.sock")
        defer { milter.stop() }
        #expect(try Self.send(milter, from: "d1.example").signatures.count == 1)
        pg.kill()
        usleep(1_200_000)  // past the cache's TTL: d1's entry is stale, and still signs
        #expect(try Self.send(milter, from: "d1.example").signatures.count == 1)
        let start = Date()
        let uncached = try Self.send(milter, from: "d2.example")
        #expect(uncached.reply == "t" && uncached.signatures.isEmpty, "\(uncached)")
        #expect(Date().timeIntervalSince(start) < 5)
        for _ in 0..<5 { _ = try Self.send(milter, from: "d3.example") }
        #expect(milter.logContains("key store:"), "\(milter.log)")
        #expect(milter.log.components(separatedBy: "key_store_unavailable").count <= 1)
        try pg.start()
        var back = false
        let deadline = Date().addingTimeInterval(30)
        while !back && Date() < deadline {
            back = try Self.send(milter, from: "d2.example").signatures.count == 1
            if !back { usleep(200_000) }
        }
        #expect(back, "d2.example did not sign after the database came back: \(milter.log)")
    }

    /// A hung database (SIGSTOP): an uncached lookup gives up at KeyStoreTimeout, and a cached
    /// domain on another connection signs meanwhile without waiting.
    @Test func aHungDatabaseHoldsNoMessageLongerThanTheBound() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let key = try Self.keyFile(dir)
        let pg = try Self.server(rows: 10, keyPath: key)
        try "Mode s\nRequireSafeKeys no\nKeyStoreTimeout 1\n\(Self.tables(pg))\n"
            .write(toFile: dir + "/c.conf", atomically: true, encoding: .utf8)
        let milter = try MilterProcess(arguments: ["--config", dir + "/c.conf"], socket: "unix:\(dir)/m.sock")
        defer { milter.stop() }
        #expect(try Self.send(milter, from: "d1.example").signatures.count == 1)
        pg.freeze()
        defer { pg.resume() }
        let group = DispatchGroup()
        let slow = DKIMMilter.Locked<Double>(0)
        group.enter()
        Thread {
            let t = Date()
            _ = try? Self.send(milter, from: "d2.example")
            slow.withLock { $0 = Date().timeIntervalSince(t) }
            group.leave()
        }.start()
        usleep(100_000)
        let t = Date()
        #expect(try Self.send(milter, from: "d1.example").signatures.count == 1)
        #expect(Date().timeIntervalSince(t) < 0.5, "a cached domain waited for the hung database")
        #expect(group.wait(timeout: .now() + 20) == .success)
        #expect(slow.withLock { $0 } < 4, "the uncached lookup took \(slow.withLock { $0 }) s; the bound is 1 s")
    }

    /// Bad rows are named by their key, the message is not signed, nothing crashes.
    @Test func badRowsAreNamedByTheirKey() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let key = try Self.keyFile(dir)
        let pg = try Self.server(keyPath: key)
        try pg.psql("""
            INSERT INTO key_table VALUES ('nofile', 'a.example', 'sel', '\(dir)/missing.pem'),
                ('garbage', 'b.example', 'sel', '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----'),
                ('noselector', 'c.example', '', '\(key)'), ('elsewhere', 'other.example', 'sel', '\(key)');
            INSERT INTO signing_table VALUES ('a.example', 'nofile'), ('b.example', 'garbage'),
                ('c.example', 'noselector'), ('d.example', 'ghost'), ('e.example', 'elsewhere');
            """, database: "mail")
        try "Mode s\nRequireSafeKeys no\n\(Self.tables(pg))\n".write(toFile: dir + "/c.conf", atomically: true,
                                                                    encoding: .utf8)
        let milter = try MilterProcess(arguments: ["--config", dir + "/c.conf"], socket: "unix:\(dir)/m.sock")
        defer { milter.stop() }
        for (domain, row) in [("a.example", "nofile"), ("b.example", "garbage"), ("c.example", "noselector"),
                              ("d.example", "ghost")] {
            let r = try Self.send(milter, from: domain)
            #expect(r.signatures.isEmpty && r.reply != "t", "\(domain): \(r)")
            #expect(milter.logContains("key store: row \(row): "), "\(row): \(milter.log)")
        }
        // A key of another domain signs (as OpenDKIM does: third-party signatures are legitimate), and
        // its row is named once: DMARC will not count it as aligned.
        let elsewhere = try Self.send(milter, from: "e.example")
        #expect(elsewhere.signatures.count == 1 && elsewhere.signatures[0].contains("d=other.example;"), "\(elsewhere)")
        #expect(milter.logContains("key store: row elsewhere: signs mail from e.example with d=other.example"),
                "\(milter.log)")
        _ = try Self.send(milter, from: "e.example")
        #expect(milter.log.components(separatedBy: "row elsewhere:").count == 2, "\(milter.log)")
        let check = try ProcessRunner.run(MilterProcess.executable, ["--check-config", dir + "/c.conf", "--all"],
                                          timeout: 60)
        #expect(check.status == 1)
        for row in ["nofile", "garbage", "noselector"] {
            #expect(check.stdoutText.contains("KeyTable row \(row): "), "\(row): \(check.stdoutText)")
        }
    }

    /// Wrong password, nothing listening, a missing table or column: one line that says which,
    /// and never the password.
    @Test(arguments: ["password", "port", "table", "column"])
    func checkConfigSaysWhatIsWrongWithTheDatabaseInOneLine(_ fault: String) throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let pg = try Self.server(keyPath: "/nonexistent")
        var tables = Self.tables(pg, tcp: true)
        let expected: String
        switch fault {
        case "password":
            tables = tables.replacingOccurrences(of: "s3cret", with: "wrongpw")
            expected = "password authentication failed"
        case "port":
            let (fd, free) = try #require(LoopbackSocket.bound(.tcp))
            close(fd)
            tables = tables.replacingOccurrences(of: "@\(pg.port)+", with: "@\(free)+")
            expected = "connection refused"
        case "table":
            tables = tables.replacingOccurrences(of: "table=key_table", with: "table=keys")
            expected = "there is no table or view keys"
        default:
            tables = tables.replacingOccurrences(of: "datacol=domain,selector,private_key",
                                                 with: "datacol=domain,selector,pem")
            expected = "has no column pem"
        }
        try "Mode s\n\(tables)\n".write(toFile: dir + "/c.conf", atomically: true, encoding: .utf8)
        let r = try ProcessRunner.run(MilterProcess.executable, ["--check-config", dir + "/c.conf"], timeout: 60)
        #expect(r.status == 1, "\(r.stdoutText)")
        #expect(r.stdoutText.contains(expected), "\(fault): \(r.stdoutText) \(r.stderr)")
        #expect(!(r.stdoutText + r.stderr).contains("wrongpw") && !(r.stdoutText + r.stderr).contains("s3cret"))
    }
}
