import DKIMMilterCore
import DKIMTestSupport
import Foundation
import Testing
@testable import DKIMPostgres

/// A server of the test's own with what OpenDKIM users keep there: a KeyTable and a SigningTable
/// as two tables, and Modoboa's schema (admin_domain) with the `dkim` view Modoboa's installer
/// makes for OpenDKIM, read by the role `dkim` (password over TCP, trusted over the socket).
final class PostgresFixture: @unchecked Sendable {
    let server: PostgresServer
    let database = "keys"
    let user = "dkim"
    let password = "p@ss:w/rd+?=x"

    init(settings: [String: String] = [:]) throws {
        server = try PostgresServer(settings: settings)
        try server.createRole(user, password: password)
        try server.createDatabase(database, owner: server.superuser)
        try server.psql(Self.schema, database: database)
    }

    static let schema = """
        CREATE TABLE key_table (name text PRIMARY KEY, domain text, selector text, private_key text);
        CREATE TABLE signing_table (pattern text NOT NULL, key_name text NOT NULL);
        CREATE INDEX ON signing_table (pattern);
        INSERT INTO key_table VALUES
            ('example.com-2026', 'example.com', 's2026', '/etc/dkimkeys/example.com.pem'),
            ('other-ed', 'other.example', 'ed1', '/etc/dkimkeys/other.pem'),
            ('nulls', 'null.example', NULL, NULL);
        INSERT INTO signing_table VALUES
            ('*@example.com', 'example.com-2026'),
            ('alice@other.example', 'other-ed'),
            ('other.example', 'other-ed'),
            ('*', 'example.com-2026'),
            ('twice.example', 'first'),
            ('twice.example', 'second');

        -- Modoboa (modoboa-installer's opendkim.conf and its view)
        CREATE TABLE admin_domain (id serial PRIMARY KEY, name varchar(100) NOT NULL UNIQUE,
            enable_dkim boolean NOT NULL DEFAULT false, dkim_key_selector varchar(30),
            dkim_private_key_path varchar(254));
        INSERT INTO admin_domain (name, enable_dkim, dkim_key_selector, dkim_private_key_path) VALUES
            ('modoboa.example', true, 'modo', '/var/lib/dkim/modoboa.example.pem'),
            ('nodkim.example', false, NULL, NULL),
            ('second.example', true, 'sel2', '/var/lib/dkim/second.example.pem');
        CREATE OR REPLACE VIEW dkim AS (
            SELECT id, name AS domain_name, dkim_private_key_path AS private_key_path,
                   dkim_key_selector AS selector
            FROM admin_domain WHERE enable_dkim
        );
        -- Only rows whose key is in key_table (OpenDKIM refuses a SigningTable naming a missing key).
        CREATE TABLE signing_ok AS SELECT * FROM signing_table WHERE key_name IN (SELECT name FROM key_table);
        GRANT SELECT ON key_table, signing_table, signing_ok, admin_domain, dkim TO dkim;
        """

    /// An OpenDKIM DSN over TCP with the password inline (escaped as opendkim(8) says).
    func tcpDSN(_ tablePart: String, password: String? = nil) -> String {
        let escaped = (password ?? self.password).replacingOccurrences(of: "=", with: "=3D")
            .replacingOccurrences(of: "@", with: "=40").replacingOccurrences(of: ":", with: "=3A")
            .replacingOccurrences(of: "/", with: "=2F").replacingOccurrences(of: "+", with: "=2B")
            .replacingOccurrences(of: "?", with: "=3F")
        return "dsn:pgsql://\(user):\(escaped)@\(server.port)+127.0.0.1/\(database)/\(tablePart)"
    }

    /// An OpenDKIM DSN over the unix socket (its directory escaped, no password: trusted).
    func socketDSN(_ tablePart: String) -> String {
        let dir = server.socketDirectory.replacingOccurrences(of: "/", with: "=2F")
        return "dsn:pgsql://\(user)@\(server.port)+\(dir)/\(database)/\(tablePart)"
    }

    func dataset(_ text: String, poolSize: Int = 4, backoff: PostgresBackoff = PostgresBackoff(),
                 onOutage: @escaping @Sendable (PostgresOutage) -> Void = { _ in },
                 onBadRow: @escaping @Sendable (PostgresBadRow) -> Void = { _ in }) throws -> PostgresDataset {
        PostgresDataset(try PostgresDSN(parsing: text), poolSize: poolSize, backoff: backoff, onOutage: onOutage,
                        onBadRow: onBadRow)
    }

    static let keyTablePart = "table=key_table?keycol=name?datacol=domain,selector,private_key"
    static let signingTablePart = "table=signing_table?keycol=pattern?datacol=key_name"
}

/// One server for a whole suite (Swift Testing makes a suite value per test; this makes the
/// server once, around all of them, and stops it after the last).
struct SharedPostgres: SuiteTrait, TestScoping {
    @TaskLocal static var fixture: PostgresFixture?

    func provideScope(for test: Test, testCase: Test.Case?,
                      performing function: @Sendable () async throws -> Void) async throws {
        let fixture = try PostgresFixture()
        defer { fixture.server.stop() }
        try await Self.$fixture.withValue(fixture) { try await function() }
    }
}

extension Trait where Self == SharedPostgres {
    static var sharedPostgres: SharedPostgres { SharedPostgres() }
}

/// A deadline `seconds` from now.
func after(_ seconds: Double) -> DispatchTime { .now() + seconds }

/// Seconds `body` took.
func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let start = DispatchTime.now()
    let value = try body()
    return (value, Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
}

/// Runs `body(i)` for i in 0..<count, each on a thread of its own, all at once (as libmilter's
/// workers would; concurrentPerform would run only as many at a time as there are cores), and
/// returns when all are done.
func inParallel(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for i in 0..<count {
        group.enter()
        Thread {
            body(i)
            group.leave()
        }.start()
    }
    group.wait()
}

/// The error `body` threw, nil when it returned.
func datasetError(_ body: () throws(DatasetError) -> Void) -> DatasetError? {
    do {
        try body()
        return nil
    } catch {
        return error
    }
}

/// Collects what observers are told, across threads.
final class Recorder<Event: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [Event] = []

    func record(_ event: Event) {
        lock.lock()
        recorded.append(event)
        lock.unlock()
    }

    var events: [Event] {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }

    /// Waits (at most `seconds`) until `condition` holds for the events.
    @discardableResult
    func wait(_ seconds: Double, until condition: ([Event]) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition(events) { return true }
            usleep(5_000)
        }
        return condition(events)
    }
}
