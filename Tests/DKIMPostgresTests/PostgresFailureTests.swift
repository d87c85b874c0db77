import DKIMMilterCore
import Testing
@testable import DKIMPostgres

/// libpq's connection messages for what the tests cannot make happen on loopback (no route, no
/// name), sorted and put in one line as the others are.
@Suite struct PostgresFailureTests {
    let info = PostgresConnectionInfo(parameters: ["host": "db.example.com", "port": "5432", "dbname": "keys",
                                                   "user": "dkim"],
                                      password: PostgresPassword("secret", source: "/etc/dkim-milter/pg.pass"))

    @Test(arguments: [
        ("connection to server at \"192.0.2.1\", port 5432 failed: No route to host\n\tIs the server running on that "
            + "host and accepting TCP/IP connections?\n",
         PostgresFailure.Kind.unreachable,
         "cannot connect to PostgreSQL at db.example.com port 5432: No route to host"),
        ("connection to server at \"192.0.2.1\", port 5432 failed: Network is unreachable\n",
         .unreachable, "cannot connect to PostgreSQL at db.example.com port 5432: Network is unreachable"),
        ("could not translate host name \"db.example.com\" to address: Name or service not known\n",
         .unreachable, "cannot connect to PostgreSQL at db.example.com port 5432: could not translate host name "
            + "\"db.example.com\" to address: Name or service not known"),
        ("connection to server at \"192.0.2.1\", port 5432 failed: FATAL:  sorry, too many clients already\n",
         .serverBusy, "PostgreSQL at db.example.com port 5432 is not serving now: sorry, too many clients already"),
        ("connection to server at \"192.0.2.1\", port 5432 failed: FATAL:  the database system is starting up\n",
         .serverBusy, "PostgreSQL at db.example.com port 5432 is not serving now: the database system is starting up"),
        ("connection to server at \"192.0.2.1\", port 5432 failed: FATAL:  no pg_hba.conf entry for host "
            + "\"192.0.2.9\", user \"dkim\", database \"keys\", no encryption\n",
         .authentication, "PostgreSQL at db.example.com port 5432 refused the login: no pg_hba.conf entry for host "
            + "\"192.0.2.9\", user \"dkim\", database \"keys\", no encryption (the password from "
            + "/etc/dkim-milter/pg.pass was refused)"),
    ])
    func sortsLibpqsConnectionMessages(message: String, kind: PostgresFailure.Kind, line: String) {
        let failure = PostgresFailure.connecting(message, to: info)
        #expect(failure.kind == kind)
        #expect(failure.message == line)
        #expect(!failure.message.contains("secret"))
    }

    @Test func outagesAreTemporaryAndConfigurationMistakesAreNot() {
        #expect(PostgresFailure(kind: .refused, message: "").datasetError.isTemporary)
        #expect(PostgresFailure(kind: .queryTimedOut, message: "").datasetError.isTemporary)
        #expect(PostgresFailure(kind: .backingOff, message: "").datasetError.isTemporary)
        #expect(!PostgresFailure(kind: .authentication, message: "").datasetError.isTemporary)
        #expect(!PostgresFailure(kind: .columnMissing, message: "").datasetError.isTemporary)
        #expect(!PostgresFailure(kind: .permission, message: "").datasetError.isTemporary)
    }

    @Test func theOutageEventsReadAsLogLines() {
        #expect(PostgresOutage.began(reason: "cannot connect to PostgreSQL at h port 5432: connection refused")
            .description == "PostgreSQL unavailable: cannot connect to PostgreSQL at h port 5432: connection refused")
        #expect(PostgresOutage.ended(duration: .milliseconds(12_340)).description
            == "PostgreSQL available again after 12.3 s")
    }
}
