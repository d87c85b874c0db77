import DKIMMilterCore
import Foundation

/// Why PostgreSQL did not answer, sorted into what the caller does about it, with one line for
/// people (never the password: libpq's messages hold none, and ours name only its source).
struct PostgresFailure: Error, CustomStringConvertible {
    enum Kind: Equatable {
        /// No route, unknown host name, or a connection failure libpq did not explain.
        case unreachable
        /// Nothing listens there (TCP refused, no socket file).
        case refused
        case connectTimedOut
        /// The server is there but will not serve now: starting, stopping, too many clients.
        case serverBusy
        case authentication
        case databaseMissing
        /// The connection broke during a query (server gone, terminated by an administrator).
        case broken
        case queryTimedOut
        /// Every connection of the pool is in use until the deadline.
        case poolExhausted
        /// The pool is waiting out its backoff after failing to connect.
        case backingOff
        case tableMissing
        case columnMissing
        case permission
        /// The key cannot be a value of the key column's type (a name looked up in an integer
        /// column): no row can match.
        case invalidKey
        /// Any other error the server reported for the query (a filter that is not SQL, say).
        case query
    }

    let kind: Kind
    let message: String

    var description: String { message }

    /// Whether trying again later may work: the server down, slow or busy, not a table, column,
    /// password or grant that is wrong until someone fixes it.
    var isTemporary: Bool {
        switch kind {
        case .unreachable, .refused, .connectTimedOut, .serverBusy, .broken, .queryTimedOut, .poolExhausted,
             .backingOff:
            true
        case .authentication, .databaseMissing, .tableMissing, .columnMissing, .permission, .invalidKey, .query:
            false
        }
    }

    /// Whether the failure means connections cannot be made or kept (an outage the pool backs off
    /// from), rather than a slow query or a wrong table.
    var isConnectionFailure: Bool {
        switch kind {
        case .unreachable, .refused, .connectTimedOut, .serverBusy, .authentication, .databaseMissing, .broken: true
        default: false
        }
    }

    var datasetError: DatasetError { DatasetError(message, isTemporary: isTemporary) }

    /// A failed connection attempt, from libpq's message (PQerrorMessage).
    static func connecting(_ libpqMessage: String, to info: PostgresConnectionInfo) -> PostgresFailure {
        // "connection to server at "127.0.0.1", port 5999 failed: Connection refused
        //      Is the server running on that host and accepting TCP/IP connections?"
        let line = firstLine(libpqMessage)
        var reason = line
        if let r = line.range(of: "failed: ", options: .backwards) { reason = String(line[r.upperBound...]) }
        while reason.hasPrefix("FATAL:") { reason = String(reason.dropFirst(6)).trimmingSpaces }
        let lower = reason.lowercased()
        let at = "PostgreSQL at \(info.server)"
        func has(_ words: String...) -> Bool { words.contains { lower.contains($0) } }
        if has("password authentication failed", "authentication failed", "no password supplied",
               "pg_hba.conf", "role \"") {
            let source = info.password.map { "the password from \($0.source) was refused" } ?? "no password was given"
            return PostgresFailure(kind: .authentication,
                                   message: "\(at) refused the login: \(reason) (\(source))")
        }
        if has("database \""), has("does not exist") {
            return PostgresFailure(kind: .databaseMissing, message: "\(at): \(reason)")
        }
        if has("connection refused", "no such file or directory"), info.server.hasPrefix("socket") {
            // No socket file, or one left by a server that died: nothing listens there.
            return PostgresFailure(kind: .refused, message: "cannot connect to \(at): no server listens on that "
                + "socket (is it running, with unix_socket_directories naming that directory?)")
        }
        if has("connection refused") {
            return PostgresFailure(kind: .refused, message: "cannot connect to \(at): connection refused "
                + "(is the server running and accepting TCP connections there?)")
        }
        if has("too many clients", "starting up", "shutting down", "recovery mode", "not yet accepting") {
            return PostgresFailure(kind: .serverBusy, message: "\(at) is not serving now: \(reason)")
        }
        if has("timeout expired") {
            return PostgresFailure(kind: .connectTimedOut, message: "cannot connect to \(at): \(reason)")
        }
        return PostgresFailure(kind: .unreachable, message: "cannot connect to \(at): \(reason)")
    }

    static func connectTimedOut(_ info: PostgresConnectionInfo, after started: DispatchTime) -> PostgresFailure {
        PostgresFailure(kind: .connectTimedOut, message: "cannot connect to PostgreSQL at \(info.server): no answer "
            + "within \(seconds(since: started)) (timed out)")
    }

    static func broken(_ libpqMessage: String, _ info: PostgresConnectionInfo) -> PostgresFailure {
        var reason = firstLine(libpqMessage)
        while reason.hasPrefix("FATAL:") { reason = String(reason.dropFirst(6)).trimmingSpaces }
        if reason.isEmpty { reason = "the connection was closed" }
        return PostgresFailure(kind: .broken, message: "lost the connection to PostgreSQL at \(info.server): \(reason)")
    }

    /// An error the server reported for a statement, by its SQLSTATE (PostgreSQL 15 Appendix A).
    static func statement(sqlState: String?, message: String, _ info: PostgresConnectionInfo) -> PostgresFailure {
        let at = "PostgreSQL at \(info.server), database \(info.database)"
        switch sqlState ?? "" {
        case "42P01": return PostgresFailure(kind: .tableMissing, message: "\(at): \(message)")
        case "42703": return PostgresFailure(kind: .columnMissing, message: "\(at): \(message)")
        case "42501":
            let user = info.parameters["user"].map { " TO \($0)" } ?? ""
            return PostgresFailure(kind: .permission, message: "\(at): \(message) (GRANT SELECT ON the table\(user))")
        case "22P02", "22003", "22007", "22008", "22021":
            return PostgresFailure(kind: .invalidKey, message: "\(at): \(message)")
        case let s where s.hasPrefix("08") || s.hasPrefix("57P"):  // connection exception, operator intervention
            return PostgresFailure(kind: .broken, message: "lost the connection to PostgreSQL at \(info.server): "
                + message)
        case "57014":
            return PostgresFailure(kind: .queryTimedOut, message: "\(at): \(message)")
        case let s where s.hasPrefix("53") || s.hasPrefix("40"):
            return PostgresFailure(kind: .serverBusy, message: "PostgreSQL at \(info.server) is not serving now: "
                + message)
        default:
            return PostgresFailure(kind: .query, message: "\(at): \(message)")
        }
    }

    static func seconds(since start: DispatchTime) -> String {
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds &- start.uptimeNanoseconds) / 1e9
        return String(format: "%.1f s", elapsed)
    }
}
