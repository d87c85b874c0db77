internal import CLibPQ
import Dispatch
import Glibc

/// One libpq connection (an owned PGconn, finished by its one deinit), driven without blocking:
/// PQconnectStartParams/PQconnectPoll to connect, PQsendQueryParams/PQconsumeInput to query, each
/// wait a poll(2) on PQsocket that ends at the caller's deadline ("PQconnectStartParams … make a
/// connection to the database server in a nonblocking manner … PQsendQueryParams … Submits a
/// command to the server without waiting for the result(s)", PostgreSQL 15 §34.1, §34.4).
///
/// A query that misses its deadline is cancelled (PQcancel, in the background) and the connection
/// is marked broken: the pool drops it instead of waiting for the rest of the answer. Used by one
/// thread at a time (the pool hands it out, the listener owns its own).
///
/// Why libpq and not vapor/postgres-nio:
/// - Threads. libmilter runs our callbacks on its own worker threads and lets them block until the
///   reply, so a lookup is a blocking call with a deadline; libpq's non-blocking calls under one
///   poll(2) on the caller's thread are exactly that, with no other thread involved. postgres-nio
///   answers on SwiftNIO event loops: every lookup would hop to an event-loop thread and back
///   while the libmilter thread waits on a future, and the milter would keep an EventLoopGroup
///   for a few queries a second.
/// - Build time (clean debug builds on this project's 2-core machine): DKIMMilterCore alone 15.8 s,
///   DKIMPostgres with CLibPQ and DKIMMilterCore 21.9 s, so about 6 s for this target (3.3 s to
///   rebuild its files); postgres-nio 1.33.2 alone in an empty package (SwiftNIO, swift-nio-ssl
///   with its BoringSSL, swift-crypto, …) 538 s, on every CI run.
/// - Memory (debug probes, one connection, 2,000 queries over the socket): libpq 24.3 MB resident
///   and 1 thread (21.3 MB before connecting: libpq and its libraries mapped); postgres-nio
///   29.6 MB and 7 threads (17.7 MB before). libpq.so is 340 KB, Debian's libpq5, security updates
///   with the distribution's.
final class PostgresConnection: @unchecked Sendable {
    private let pointer: OpaquePointer
    let info: PostgresConnectionInfo
    /// Set when the connection must not be used again (timed out, lost).
    private(set) var isBroken = false
    /// SQL texts built for this connection (identifiers quoted by its PQescapeIdentifier), by use.
    var statements: [String: String] = [:]

    private init(_ pointer: OpaquePointer, _ info: PostgresConnectionInfo) {
        self.pointer = pointer
        self.info = info
    }

    deinit { PQfinish(pointer) }

    /// Connects by `deadline`.
    static func open(_ info: PostgresConnectionInfo, deadline: DispatchTime) throws(PostgresFailure)
        -> PostgresConnection {
        let started = DispatchTime.now()
        let pairs = info.keywordsAndValues
        let keywords = pairs.map { strdup($0.0) } + [nil]
        let values = pairs.map { strdup($0.1) } + [nil]
        defer {
            for p in keywords { free(p) }
            for case let p? in values { explicit_bzero(p, strlen(p)); free(p) }
        }
        let raw = keywords.map { $0.map { UnsafePointer($0) } }.withUnsafeBufferPointer { k in
            values.map { $0.map { UnsafePointer($0) } }.withUnsafeBufferPointer { v in
                PQconnectStartParams(k.baseAddress, v.baseAddress, 0)
            }
        }
        guard let raw else {
            throw PostgresFailure(kind: .unreachable, message: "libpq could not start a connection (out of memory)")
        }
        let connection = PostgresConnection(raw, info)
        guard PQstatus(raw) != CONNECTION_BAD else {
            throw PostgresFailure.connecting(connection.errorMessage, to: info)
        }
        // "If PQconnectStart or PQconnectStartParams succeeds, the next stage is to poll libpq so
        // that it can proceed with the connection sequence … as though PQconnectPoll had last
        // returned PGRES_POLLING_WRITING" (§34.1).
        var polling = PGRES_POLLING_WRITING
        while true {
            switch polling {
            case PGRES_POLLING_OK:
                guard PQsetnonblocking(raw, 1) == 0 else {
                    throw PostgresFailure.broken(connection.errorMessage, info)
                }
                return connection
            case PGRES_POLLING_FAILED:
                throw PostgresFailure.connecting(connection.errorMessage, to: info)
            case PGRES_POLLING_READING, PGRES_POLLING_WRITING:
                let fd = PQsocket(raw)
                guard fd >= 0 else { throw PostgresFailure.connecting(connection.errorMessage, to: info) }
                switch SocketWait.wait(fd, read: polling == PGRES_POLLING_READING,
                                       write: polling == PGRES_POLLING_WRITING, until: deadline) {
                case .timedOut, .woken: throw PostgresFailure.connectTimedOut(info, after: started)
                case .failed(let why): throw PostgresFailure(kind: .unreachable, message: why)
                case .ready: break
                }
            default:
                break
            }
            polling = PQconnectPoll(raw)
        }
    }

    /// Runs one statement with its parameters ($1, $2, … sent apart from the SQL text, as text)
    /// and returns its rows, NULL as nil.
    /// - Throws: `PostgresFailure`: the server's error, a lost connection, or `.queryTimedOut` at
    ///   `deadline` (the query is cancelled and this connection is broken from then on).
    func execute(_ sql: String, _ parameters: [String?], deadline: DispatchTime) throws(PostgresFailure)
        -> [[String?]] {
        guard !isBroken else { throw PostgresFailure.broken("the connection was dropped", info) }
        let started = DispatchTime.now()
        let values = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { for p in values { free(p) } }
        let sent = values.map { $0.map { UnsafePointer($0) } }.withUnsafeBufferPointer { v in
            PQsendQueryParams(pointer, sql, Int32(parameters.count), nil, v.baseAddress, nil, nil, 0)
        }
        guard sent == 1 else { throw lost() }
        // "After sending any command or data on a nonblocking connection, call PQflush. If it
        // returns 1, wait for the socket to become read- or write-ready" (§34.5).
        while true {
            let flushed = PQflush(pointer)
            if flushed == 0 { break }
            guard flushed > 0 else { throw lost() }
            try wait(read: true, write: true, until: deadline, started: started)
        }
        var rows: [[String?]]?
        var failure: PostgresFailure?
        while true {
            while PQisBusy(pointer) == 1 { try wait(read: true, write: false, until: deadline, started: started) }
            guard let next = PQgetResult(pointer) else { break }
            let result = PostgresResult(next)
            if result.succeeded, rows == nil { rows = result.rows }
            if result.failed, failure == nil {
                failure = PostgresFailure.statement(sqlState: result.sqlState, message: result.errorMessage, info)
            }
        }
        guard PQstatus(pointer) == CONNECTION_OK else { throw lost() }
        if let failure {
            if failure.kind == .broken { isBroken = true }
            throw failure
        }
        return rows ?? []
    }

    /// `name` quoted for SQL by PQescapeIdentifier, part by part.
    func quoted(_ name: PostgresName) throws(PostgresFailure) -> String {
        var parts: [String] = []
        for part in name.parts {
            guard let escaped = PQescapeIdentifier(pointer, part, strlen(part)) else {
                throw PostgresFailure(kind: .query, message: "the name \(name) cannot be quoted: \(errorMessage)")
            }
            parts.append(String(cString: escaped))
            PQfreemem(escaped)
        }
        return parts.joined(separator: ".")
    }

    /// Whether the connection can take another query: open, not broken, no transaction left open.
    var isReusable: Bool {
        !isBroken && PQstatus(pointer) == CONNECTION_OK && PQtransactionStatus(pointer) == PQTRANS_IDLE
    }

    // MARK: LISTEN (PostgresListener)

    var socket: Int32 { PQsocket(pointer) }

    /// Reads what the server sent; false when the connection is lost.
    func consumeInput() -> Bool {
        guard PQconsumeInput(pointer) == 1, PQstatus(pointer) == CONNECTION_OK else {
            isBroken = true
            return false
        }
        return true
    }

    /// The payloads of the notifications received so far, oldest first.
    func takeNotifications() -> [String] {
        var payloads: [String] = []
        while let notify = PQnotifies(pointer) {
            payloads.append(String(cString: notify.pointee.extra))
            PQfreemem(notify)
        }
        return payloads
    }

    var errorMessage: String { PQerrorMessage(pointer).map { String(cString: $0) } ?? "" }

    // MARK: private

    private func wait(read: Bool, write: Bool, until deadline: DispatchTime, started: DispatchTime)
        throws(PostgresFailure) {
        let fd = PQsocket(pointer)
        guard fd >= 0 else { throw lost() }
        switch SocketWait.wait(fd, read: read, write: write, until: deadline) {
        case .timedOut, .woken:
            abandon()
            throw PostgresFailure(kind: .queryTimedOut, message: "PostgreSQL at \(info.server) gave no answer within "
                + "\(PostgresFailure.seconds(since: started)) (the query was cancelled)")
        case .failed(let why):
            isBroken = true
            throw PostgresFailure.broken(why, info)
        case .ready(let readable, _):
            if readable, PQconsumeInput(pointer) == 0 { throw lost() }
        }
    }

    private func lost() -> PostgresFailure {
        isBroken = true
        return PostgresFailure.broken(errorMessage, info)
    }

    /// Asks the server to stop the running query and marks the connection broken.
    private func abandon() {
        isBroken = true
        PostgresCancel(pointer)?.sendInBackground()
    }
}
