import Foundation
import Glibc

/// LISTEN on a channel, on a connection and a thread of its own, calling `handler` with each
/// notification's payload as soon as it arrives (the thread sleeps in poll(2) on the connection's
/// socket: no polling interval). With contrib/postgresql/dkim-notify.sql installed, every change
/// to a KeyTable or SigningTable row sends `pg_notify('dkim_milter', key)`, so a key store can
/// forget that key at once instead of waiting for its cache to expire.
///
/// "NOTIFY interacts with SQL transactions … notifications are delivered only between
/// transactions" and only to sessions listening at the time (PostgreSQL 15, NOTIFY): whatever
/// changed while the listener was disconnected is not sent again. So after an outage the listener
/// says `.listening(resumed: true)`: everything may have changed; the key store should forget all
/// it cached. The connection is probed with `SELECT 1` after a minute of silence, so a server
/// that vanished without closing the connection is noticed. A lost connection is made again with
/// the same backoff as a pool's, and `.down` is said once per outage.
public final class PostgresListener: @unchecked Sendable {
    public enum Event: Sendable, Equatable {
        /// LISTEN is in effect; `resumed` after an outage (changes during it were not notified).
        case listening(resumed: Bool)
        /// One notification's payload (the changed row's key with dkim-notify.sql; "" for a TRUNCATE).
        case notification(payload: String)
        /// The connection failed or was lost; said once until `listening` again.
        case down(reason: String)
    }

    public let connection: PostgresConnectionInfo
    public let channel: String
    private let backoff: PostgresBackoff
    private let handler: @Sendable (Event) -> Void
    private let lock = NSLock()
    private var stopping = false
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)
    private var wake: (read: Int32, write: Int32) = (-1, -1)

    /// - Parameter handler: called on the listener's thread, one event at a time; it should return
    ///   quickly (notifications wait meanwhile).
    public init(_ connection: PostgresConnectionInfo, channel: String = "dkim_milter",
                backoff: PostgresBackoff = PostgresBackoff(), handler: @escaping @Sendable (Event) -> Void) {
        self.connection = connection
        self.channel = channel
        self.backoff = backoff
        self.handler = handler
    }

    deinit {
        stop()
        if wake.read >= 0 { close(wake.read); close(wake.write) }
    }

    /// Starts the thread (once).
    public func start() {
        lock.lock()
        defer { lock.unlock() }
        guard thread == nil, !stopping else { return }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { fatalError("pipe: \(String(cString: strerror(errno)))") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC); _ = fcntl(fd, F_SETFL, O_NONBLOCK) }
        wake = (fds[0], fds[1])
        let started = Thread { [self] in
            Self.nameThread("dkim-pg-listen")
            run()
            finished.signal()
        }
        started.stackSize = 1 << 20
        thread = started
        started.start()
    }

    /// Stops the thread and closes its connection; returns once it is gone.
    public func stop() {
        lock.lock()
        let running = thread != nil && !stopping
        stopping = true
        if running { _ = Glibc.write(wake.write, "x", 1) }
        lock.unlock()
        if running { finished.wait() }
    }

    /// Foundation's Thread.name does not always reach the kernel (see DNSEventLoop).
    private static func nameThread(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = name.withCString { Glibc.write(fd, $0, strlen($0)) }
        close(fd)
    }

    private var isStopping: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopping
    }

    private func run() {
        var listenedBefore = false
        var reportedDown = false
        var interval = backoff.initial
        while !isStopping {
            do {
                try listen(onListening: {
                    handler(.listening(resumed: listenedBefore))
                    listenedBefore = true
                    reportedDown = false
                    interval = backoff.initial
                })
            } catch {
                if isStopping { break }
                if !reportedDown {
                    handler(.down(reason: error.message))
                    reportedDown = true
                }
                if case .woken = SocketWait.wait(wake.read, read: true, write: false,
                                                 until: .now().advanced(by: backoff.jittered(interval))) {
                    break
                }
                interval = backoff.interval(after: interval)
            }
        }
    }

    /// Connects, listens, and hands on notifications until the connection fails or `stop`.
    private func listen(onListening: () -> Void) throws(PostgresFailure) {
        let setup = DispatchTime.now().advanced(by: .seconds(10))
        let listening = try PostgresConnection.open(connection, deadline: setup)
        _ = try listening.execute("LISTEN " + listening.quoted(PostgresName(parts: [channel])), [], deadline: setup)
        onListening()
        deliver(listening.takeNotifications())
        while !isStopping {
            switch SocketWait.wait(listening.socket, read: true, write: false,
                                   until: .now().advanced(by: .seconds(60)), wake: wake.read) {
            case .woken:
                return
            case .timedOut:
                _ = try listening.execute("SELECT 1", [], deadline: .now().advanced(by: .seconds(10)))
            case .failed(let why):
                throw PostgresFailure.broken(why, connection)
            case .ready:
                guard listening.consumeInput() else { throw PostgresFailure.broken(listening.errorMessage, connection) }
            }
            deliver(listening.takeNotifications())
        }
    }

    private func deliver(_ payloads: [String]) {
        for payload in payloads { handler(.notification(payload: payload)) }
    }
}
