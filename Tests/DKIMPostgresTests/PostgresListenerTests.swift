import DKIMMilterCore
import DKIMTestSupport
import Foundation
import Testing
@testable import DKIMPostgres

/// LISTEN/NOTIFY with contrib/postgresql/dkim-notify.sql installed: each change of a row reaches
/// the listener within a second, and an outage ends in `.listening(resumed: true)`.
@Suite struct PostgresListenerTests {
    static let notifySQL: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return (try? String(contentsOf: root.appendingPathComponent("contrib/postgresql/dkim-notify.sql"),
                            encoding: .utf8)) ?? ""
    }()

    func install(_ db: PostgresFixture) throws {
        #expect(!Self.notifySQL.isEmpty)
        try db.server.psql(Self.notifySQL, database: db.database)
        try db.server.psql(Self.notifySQL, database: db.database) // safe to run again
        try db.server.psql("""
            CREATE TRIGGER dkim_milter_notify AFTER INSERT OR UPDATE OR DELETE ON key_table
                FOR EACH ROW EXECUTE FUNCTION dkim_milter_notify('name');
            CREATE TRIGGER dkim_milter_notify_all AFTER TRUNCATE ON key_table
                FOR EACH STATEMENT EXECUTE FUNCTION dkim_milter_notify_all();
            CREATE TRIGGER dkim_milter_notify AFTER INSERT OR UPDATE OR DELETE ON signing_table
                FOR EACH ROW EXECUTE FUNCTION dkim_milter_notify('pattern');
            CREATE TRIGGER dkim_milter_notify AFTER INSERT OR UPDATE OR DELETE ON admin_domain
                FOR EACH ROW EXECUTE FUNCTION dkim_milter_notify('id', 'name');
            """, database: db.database)
    }

    /// The notifications recorded after `body` ran, waiting (at most a second after it returned)
    /// until `count` have come.
    func notified(_ events: Recorder<PostgresListener.Event>, count: Int, by body: () throws -> Void) rethrows
        -> (payloads: [String], seconds: Double) {
        let before = events.events.count
        try body()
        let returned = DispatchTime.now()
        events.wait(1) { $0.count - before >= count }
        let payloads = events.events.dropFirst(before).compactMap { event -> String? in
            if case .notification(let payload) = event { return payload }
            return nil
        }
        return (payloads, Double(DispatchTime.now().uptimeNanoseconds - returned.uptimeNanoseconds) / 1e9)
    }

    @Test func eachChangedRowsKeyReachesTheListenerWithinASecond() throws {
        let db = try PostgresFixture()
        try install(db)
        let events = Recorder<PostgresListener.Event>()
        let connection = try PostgresDSN(parsing: db.tcpDSN(PostgresFixture.keyTablePart)).connection
        let listener = PostgresListener(connection, handler: events.record)
        listener.start()
        defer { listener.stop() }
        #expect(events.wait(5) { $0.contains(.listening(resumed: false)) })

        let inserted = try notified(events, count: 1) {
            try db.server.psql("INSERT INTO signing_table VALUES ('new@example.com', 'example.com-2026');",
                               database: db.database)
        }
        #expect(inserted.payloads == ["new@example.com"])
        #expect(inserted.seconds < 1, "\(inserted.seconds) s after the INSERT returned")
        print("postgres NOTIFY reached the listener " + String(format: "%.1f ms", inserted.seconds * 1000)
            + " after psql's INSERT returned")

        let renamed = try notified(events, count: 2) {
            try db.server.psql("UPDATE key_table SET name = 'renamed' WHERE name = 'other-ed';", database: db.database)
        }
        #expect(renamed.payloads == ["other-ed", "renamed"])
        let changed = try notified(events, count: 1) {
            try db.server.psql("UPDATE key_table SET selector = 's2027' WHERE name = 'example.com-2026';",
                               database: db.database)
        }
        #expect(changed.payloads == ["example.com-2026"])
        let deleted = try notified(events, count: 1) {
            try db.server.psql("DELETE FROM signing_table WHERE pattern = 'new@example.com';", database: db.database)
        }
        #expect(deleted.payloads == ["new@example.com"])
        let modoboa = try notified(events, count: 2) {
            try db.server.psql("UPDATE admin_domain SET enable_dkim = false WHERE name = 'second.example';",
                               database: db.database)
        }
        #expect(modoboa.payloads == ["3", "second.example"])
        let truncated = try notified(events, count: 1) {
            try db.server.psql("TRUNCATE key_table;", database: db.database)
        }
        #expect(truncated.payloads == [""])
        let rolledBack = try notified(events, count: 1) {
            try db.server.psql("BEGIN; INSERT INTO signing_table VALUES ('never@example.com', 'x'); ROLLBACK;",
                               database: db.database)
        }
        #expect(rolledBack.payloads == [], "nothing is sent for a transaction that did not commit")
    }

    @Test func theListenerComesBackAfterARestartSayingWhatItMayHaveMissed() throws {
        let db = try PostgresFixture()
        try install(db)
        let events = Recorder<PostgresListener.Event>()
        let connection = try PostgresDSN(parsing: db.socketDSN(PostgresFixture.keyTablePart)).connection
        let listener = PostgresListener(connection, backoff: PostgresBackoff(initial: .milliseconds(100),
                                                                            maximum: .milliseconds(300)),
                                        handler: events.record)
        listener.start()
        defer { listener.stop() }
        #expect(events.wait(5) { $0.contains(.listening(resumed: false)) })

        db.server.kill()
        #expect(events.wait(5) { $0.contains { if case .down = $0 { true } else { false } } })
        usleep(700_000) // a few reconnection attempts fail meanwhile
        try db.server.start()
        #expect(events.wait(10) { $0.contains(.listening(resumed: true)) })
        let downs = events.events.filter { if case .down = $0 { true } else { false } }
        #expect(downs.count == 1, "one report per outage: \(events.events)")

        let after = try notified(events, count: 1) {
            try db.server.psql("INSERT INTO key_table VALUES ('after-restart', 'example.com', 's', '/k');",
                               database: db.database)
        }
        #expect(after.payloads == ["after-restart"])
    }

    @Test func stopReturnsPromptlyAndClosesTheConnection() throws {
        let db = try PostgresFixture()
        let events = Recorder<PostgresListener.Event>()
        let listener = PostgresListener(try PostgresDSN(parsing: db.socketDSN(PostgresFixture.keyTablePart))
            .connection, handler: events.record)
        listener.start()
        #expect(events.wait(5) { !$0.isEmpty })
        let (_, seconds) = timed { listener.stop() }
        #expect(seconds < 0.5)
        let sessions = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'dkim-milter'"
        Recorder<Int>().wait(5) { _ in (try? db.server.psql(sessions)) == "0" }
        #expect(try db.server.psql(sessions) == "0", "the listener's connection is closed")
    }
}
