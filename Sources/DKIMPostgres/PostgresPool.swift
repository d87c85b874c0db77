import Foundation

/// A few connections to one database, shared by every thread: each connection serves one thread
/// at a time, a thread that finds none free opens one (up to `size`) or waits for one until its
/// deadline; while no connection exists, one thread at a time tries to make one and the others
/// wait for the outcome. libmilter calls us on its own worker threads and lets them block, so a lookup is a
/// plain blocking call that returns by its deadline, whatever the server does.
///
/// When the server cannot be reached the pool backs off (`PostgresBackoff`): after a failed
/// connection attempt no thread tries again until the interval has passed, and then only one does
/// while the others fail at once with the same (temporary) error; so a server that is down sees
/// one attempt per interval from a milter, not one per message, and no message waits for a
/// connection that cannot be made. `onOutage` hears of it twice: when the outage begins (with the
/// reason) and when a connection is made again. A connection that breaks during a query (the server
/// restarted, an administrator terminated it) is dropped with every idle one, and the query is
/// tried once more on a new connection if it had been reused; only when that fails too does the
/// outage begin. A query that times out drops its connection (cancelled, see `PostgresConnection`)
/// but is no outage: a slow query must not stop the others.
public final class PostgresPool: @unchecked Sendable {
    public let connection: PostgresConnectionInfo
    public let size: Int
    public let backoff: PostgresBackoff

    private let condition = NSCondition()
    private var idle: [PostgresConnection] = []
    /// Connections that exist or are being made, idle or in use.
    private var count = 0
    /// Of `count`, the connections being made.
    private var connecting = 0
    private var outage: Outage?
    private var closed = false
    /// Delivers outage events in the order they happened, off the callers' threads.
    private let events = DispatchQueue(label: "dkim-milter.postgres-outage")
    private let onOutage: @Sendable (PostgresOutage) -> Void

    private struct Outage {
        var failure: PostgresFailure
        let since: DispatchTime
        var interval: Duration
        var nextAttempt: DispatchTime
        var attempting = false
    }

    /// - Parameters:
    ///   - size: at most this many connections (PostgreSQL's default max_connections is 100; a
    ///     fleet of milters shares it).
    ///   - onOutage: told when connections start failing and when they work again; called on a
    ///     queue of the pool's, one event at a time, in order.
    public init(_ connection: PostgresConnectionInfo, size: Int = 4, backoff: PostgresBackoff = PostgresBackoff(),
                onOutage: @escaping @Sendable (PostgresOutage) -> Void = { _ in }) {
        self.connection = connection
        self.size = max(1, size)
        self.backoff = backoff
        self.onOutage = onOutage
    }

    /// The reason connections are failing now, nil while they work.
    public var outageReason: String? {
        condition.lock()
        defer { condition.unlock() }
        return outage?.failure.message
    }

    /// Drops the idle connections; those in use are dropped when they come back.
    public func close() {
        condition.lock()
        closed = true
        let dropped = takeIdle()
        condition.broadcast()
        condition.unlock()
        _ = dropped
    }

    /// Runs `body` with a connection of its own until it returns, by `deadline`.
    func withConnection<T>(deadline: DispatchTime, _ body: (PostgresConnection) throws(PostgresFailure) -> T)
        throws(PostgresFailure) -> T {
        var retried = false
        while true {
            let (connection, fresh) = try acquire(deadline: deadline)
            do {
                let value = try body(connection)
                release(connection)
                return value
            } catch {
                release(connection)
                guard error.kind == .broken else { throw error }
                if !fresh, !retried, DispatchTime.now() < deadline {
                    retried = true
                    dropIdle()
                    continue
                }
                lost(error)
                throw error
            }
        }
    }

    // MARK: private

    private func acquire(deadline: DispatchTime) throws(PostgresFailure) -> (PostgresConnection, fresh: Bool) {
        condition.lock()
        while true {
            if closed {
                condition.unlock()
                throw PostgresFailure(kind: .backingOff, message: "the PostgreSQL pool for \(connection.server) "
                    + "was closed (reloading)")
            }
            if let ready = idle.popLast() {
                condition.unlock()
                return (ready, false)
            }
            if var current = outage {
                let now = DispatchTime.now()
                guard !current.attempting, now >= current.nextAttempt else {
                    condition.unlock()
                    throw fastFailure(current, now: now)
                }
                current.attempting = true
                outage = current
                count += 1
                connecting += 1
                condition.unlock()
                return (try open(deadline: deadline), true)
            }
            // With no connection made yet (or left), one attempt at a time: the others wait for
            // its outcome instead of each trying a server that may not answer.
            if count < size, count - connecting > 0 || connecting == 0 {
                count += 1
                connecting += 1
                condition.unlock()
                return (try open(deadline: deadline), true)
            }
            let remaining = Double(SocketWait.milliseconds(until: deadline)) / 1000
            guard remaining > 0 else {
                condition.unlock()
                throw PostgresFailure(kind: .poolExhausted, message: "all \(size) connections to PostgreSQL at "
                    + "\(connection.server) stayed busy until the deadline")
            }
            _ = condition.wait(until: Date(timeIntervalSinceNow: remaining))
        }
    }

    /// Opens a connection for a caller that counted it; records the outage's beginning or end.
    private func open(deadline: DispatchTime) throws(PostgresFailure) -> PostgresConnection {
        let made: PostgresConnection
        do {
            made = try PostgresConnection.open(connection, deadline: deadline)
        } catch {
            condition.lock()
            count -= 1
            connecting -= 1
            // "Too many clients" while our other connections work is no outage: they go on
            // serving (the caller tries again or waits for one of them next time).
            let busyButServing = error.kind == .serverBusy && count - connecting > 0 && outage == nil
            let dropped = busyButServing ? [] : failed(error)
            condition.broadcast()
            condition.unlock()
            _ = dropped
            throw error
        }
        condition.lock()
        connecting -= 1
        condition.broadcast()
        if let ended = outage {
            outage = nil
            let elapsed = DispatchTime.now().uptimeNanoseconds - ended.since.uptimeNanoseconds
            let duration = Duration.nanoseconds(Int64(elapsed))
            events.async { [onOutage] in onOutage(.ended(duration: duration)) }
        }
        condition.unlock()
        return made
    }

    private func release(_ used: PostgresConnection) {
        condition.lock()
        var dropped: PostgresConnection?
        if used.isReusable, outage == nil, !closed {
            idle.append(used)
        } else {
            count -= 1
            dropped = used
        }
        condition.signal()
        condition.unlock()
        _ = dropped // finished here, outside the lock
    }

    /// A connection broke and a new one could not serve either: the outage begins.
    private func lost(_ failure: PostgresFailure) {
        condition.lock()
        let dropped = failed(failure)
        condition.broadcast()
        condition.unlock()
        _ = dropped
    }

    private func dropIdle() {
        condition.lock()
        let dropped = takeIdle()
        condition.unlock()
        _ = dropped
    }

    /// Records a failure to connect (lock held): the outage begins, or its next attempt moves
    /// further away. Returns the idle connections to drop outside the lock.
    private func failed(_ failure: PostgresFailure) -> [PostgresConnection] {
        let now = DispatchTime.now()
        if var current = outage {
            current.attempting = false
            current.failure = failure
            current.interval = backoff.interval(after: current.interval)
            current.nextAttempt = now.advanced(by: backoff.jittered(current.interval))
            outage = current
            return []
        }
        outage = Outage(failure: failure, since: now, interval: backoff.initial,
                        nextAttempt: now.advanced(by: backoff.jittered(backoff.initial)))
        events.async { [onOutage] in onOutage(.began(reason: failure.message)) }
        return takeIdle()
    }

    private func takeIdle() -> [PostgresConnection] {
        let taken = idle
        idle.removeAll()
        count -= taken.count
        return taken
    }

    private func fastFailure(_ current: Outage, now: DispatchTime) -> PostgresFailure {
        let next = current.nextAttempt.uptimeNanoseconds > now.uptimeNanoseconds
            ? String(format: "%.1f s", Double(current.nextAttempt.uptimeNanoseconds - now.uptimeNanoseconds) / 1e9)
            : "a moment"
        let kind: PostgresFailure.Kind = current.failure.isTemporary ? .backingOff : current.failure.kind
        return PostgresFailure(kind: kind, message: "\(current.failure.message) (not retried for another \(next))")
    }
}

extension DispatchTime {
    func advanced(by duration: Duration) -> DispatchTime {
        let (seconds, attoseconds) = duration.components
        let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        return self + .nanoseconds(Int(clamping: nanoseconds))
    }
}
