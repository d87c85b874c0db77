import DKIM
import DKIMKeyCheck
import DKIMMilterCore
import DKIMOpenSSL
import Dispatch
import Foundation
import Glibc

/// The running milter: the current policy (swapped on reload), the live connections, the log.
/// libmilter's callbacks carry no user pointer, so the one host of the process is registered
/// in `MilterHost.current` by `run()`.
public final class MilterHost: Sendable {
    /// The host the callbacks serve (set by `run()`).
    static let current = Locked<MilterHost?>(nil)

    let policy: Locked<MilterPolicy>
    let liveConnections = Locked(0)
    /// Callbacks running right now; shutdown waits for them (a signature being made is finished).
    let busyCallbacks = Locked(0)
    public let log: MilterLog
    /// The milter's numbers (exported by `MetricsEndpoint` when MetricsListen is set).
    public let metrics: MilterMetrics
    let reload: @Sendable () throws -> MilterPolicy
    /// systemd's notification socket (Type=notify): ready, reloading, stopping.
    let notifier = SystemdNotifier()

    /// - Parameters:
    ///   - policy: the configuration to serve.
    ///   - reload: builds a new policy on SIGUSR1; when it throws, the old one stays.
    public init(policy: MilterPolicy, log: MilterLog, metrics: MilterMetrics,
                reload: @escaping @Sendable () throws -> MilterPolicy) {
        self.policy = Locked(policy)
        self.log = log
        self.metrics = metrics
        self.reload = reload
    }

    public var currentPolicy: MilterPolicy { policy.withLock { $0 } }

    /// What to do once a message has an outcome: its numbers and its log line.
    func record(_ outcome: MessageOutcome) {
        metrics.record(outcome)
        log.outcome(outcome)
    }

    /// Runs the published-key guard once: the key store read again when it is a keys directory
    /// (`dkimkey rotate` may have added a pending key or changed keys.state), every key's record
    /// looked up, and the policy swapped when anything changed. Lines are logged once per change.
    public func refreshKeys() {
        let policy = currentPolicy
        let c = policy.configuration
        var store = policy.keys
        if c.keyTable == nil && c.keyFile == nil {
            var warnings: [String] = []
            do {
                let reread = try KeyStore.load(c, loader: OpenSSLCryptoProvider(), warnings: &warnings)
                if let gone = Self.vanishedSigningKey(running: policy.keys, reread: reread) {
                    log.error("key check: the key file \(gone.path) (\(gone.domain) s=\(gone.selector)) is gone; "
                        + "keeping the running keys: restore it, or restart dkim-milter to stop signing with it")
                } else {
                    store = reread
                }
            } catch {
                log.error("key check: cannot read the key store again, keeping the running keys: \(error)")
            }
        }
        let deadline = DispatchTime.now() + Double(max(1, c.dnsTimeout)) * 2
        let (checked, lines) = PublishedKeyGuard.check(store, previous: policy.keys, resolver: policy.keyRecordResolver,
                                                       crypto: policy.crypto, deadline: deadline)
        for line in lines { log.warning(line) }
        // Swap in the checked keys unless a reload replaced the policy meanwhile.
        self.policy.withLock { running in
            if running === policy { running = policy.with(keys: checked) }
        }
        metrics.recordKeys(checked.allKeys.map { ($0.lifecycle, checked.publication[$0.recordName]) })
    }

    /// Runs a callback's work, counted as in flight.
    func busy<T>(_ body: () -> T) -> T {
        busyCallbacks.withLock { $0 += 1 }
        defer { busyCallbacks.withLock { $0 -= 1 } }
        return body()
    }

    /// Reloads keys and configuration; a bad new configuration keeps the old one.
    public func reloadNow() {
        notifier.reloading()
        defer { notifier.reloaded(status: "Serving: \(currentPolicy.keys.allKeys.count) signing key(s)") }
        do {
            // A key file that has vanished is a mistake far more often than a way to retire a key:
            // keep signing with what runs, and say so.
            let gone = currentPolicy.keys.allKeys.filter { !FileManager.default.fileExists(atPath: $0.path) }
            if let first = gone.first {
                throw ConfigurationError("the key file \(first.path) (\(first.domain) s=\(first.selector)) is gone; "
                    + "restore it, or restart dkim-milter to stop signing with it")
            }
            let new = try reload()
            // What the guard knew of the running keys carries over; it checks them again now.
            policy.withLock { $0 = new.with(keys: new.keys.with(publication: $0.keys.publication)) }
            metrics.recordReload(succeeded: true)
            log.info("reloaded: \(new.keys.allKeys.count) signing key(s)")
            refreshKeys()
        } catch {
            metrics.recordReload(succeeded: false)
            log.error("reload failed, keeping the running configuration: \(error)")
        }
    }

    /// A key that signs (pending or active) whose file has vanished from the keys directory while
    /// its domain's keys.state (or the lack of one) still says it signs: a mistake far more often
    /// than a way to stop a key, so the running keys are kept, as a reload keeps them
    /// (`reloadNow`). A key that `dkimkey rotate` has retired, revoked or deleted in keys.state
    /// leaves when its file goes, as rotation moves it away.
    static func vanishedSigningKey(running: KeyStore, reread: KeyStore) -> SigningKey? {
        running.allKeys.first { k in
            guard k.lifecycle.maySign, !reread.allKeys.contains(where: { $0.path == k.path }),
                  !FileManager.default.fileExists(atPath: k.path) else { return false }
            let folder = URL(fileURLWithPath: k.path).deletingLastPathComponent().path
            guard let states = try? KeyStateFile.read(directory: folder, domain: k.domain) else { return true }
            return states[k.selector]?.state.maySign ?? false
        }
    }

    /// The first check before mail is served, then one every KeyCheckInterval on a thread of its own.
    func startKeyChecks() {
        refreshKeys()
        let interval = currentPolicy.configuration.keyCheckInterval
        guard interval > 0 else { return }
        let thread = Thread { [self] in
            while true {
                Thread.sleep(forTimeInterval: currentPolicy.configuration.keyCheckInterval)
                refreshKeys()
            }
        }
        thread.name = "dkim-key-check"
        thread.start()
    }

    /// Blocks SIGTERM, SIGINT, SIGHUP and SIGUSR1 in the calling thread, so that every thread
    /// made afterwards inherits the mask (libmilter sigwaits TERM/INT/HUP; we sigwait USR1).
    /// Call first thing in `main`, before any thread exists.
    public static func blockSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGTERM, SIGINT, SIGHUP, SIGUSR1] { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Opens the socket, drops privileges, serves until SIGTERM/SIGINT, then waits for the
    /// connections in flight (up to `drainSeconds`). Returns the process exit status.
    public func run(socket: String, umask mask: Int?, userID: String?, pidFile: String?,
                    drainSeconds: Int = 30) -> Int32 {
        MilterHost.current.withLock { $0 = self }
        let log = self.log
        DatabaseKeys.log.withLock { $0 = { log.warning($0) } }
        let reloadThread = Thread { [self] in
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGUSR1)
            // SIGTERM too, to tell systemd at once (libmilter's own thread may take it instead:
            // then STOPPING=1 goes when its loop ends).
            sigaddset(&set, SIGTERM)
            while true {
                var signal: Int32 = 0
                guard sigwait(&set, &signal) == 0 else { continue }
                if signal == SIGUSR1 { self.reloadNow() }
                if signal == SIGTERM { self.notifier.stopping(); MilterCallbacks.stop() }
            }
        }
        reloadThread.start()
        if let mask { _ = Glibc.umask(mode_t(mask)) }
        let unixPath = MilterSocketDirectory.unixPath(of: socket)
        if let path = unixPath {
            do {
                try MilterSocketDirectory.prepare(socketPath: path, userID: userID)
            } catch {
                log.error("\(error)")
                return 1
            }
            // A stale socket from an earlier run would make the bind fail.
            var st = stat()
            if stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK { unlink(path) }
        }
        let registration: MilterCallbacks.Registration
        do {
            registration = try MilterCallbacks.open(socket: socket)
        } catch {
            log.error("\(error)")
            return 1
        }
        if let path = unixPath {
            MilterSocketDirectory.restrict(socketPath: path, umaskConfigured: mask != nil)
            if let warning = MilterSocketDirectory.reachabilityWarning(socketPath: path) { log.warning(warning) }
        } else {
            let host = socket.lowercased().split(separator: "@").last ?? ""
            let loopback = ["127.0.0.1", "::1", "[::1]", "localhost"].contains(host)
            let others = loopback ? "" : " and every host that reaches it"
            log.warning("\(socket): the milter protocol has no authentication, so every local user\(others) can "
                + "have mail signed with our keys; the default unix socket (\(MilterConfiguration.defaultSocket)) "
                + "lets in only root, the milter's user and group postfix")
        }
        if let pidFile {
            do {
                try "\(getpid())\n".write(toFile: pidFile, atomically: true, encoding: .utf8)
            } catch {
                log.error("cannot write the PID file \(pidFile): \(error.localizedDescription)")
                return 1
            }
        }
        if let userID {
            if let problem = Self.dropPrivileges(to: userID) {
                log.error(problem)
                return 1
            }
        }
        log.info("listening on \(socket)")
        startKeyChecks()
        if socket.lowercased().hasPrefix("inet") { TCPNoDelay.catchEarlyConnections() }
        // The socket listens (connections wait in its backlog until libmilter accepts them).
        notifier.ready(status: "Listening on \(socket): \(currentPolicy.keys.allKeys.count) signing key(s)")
        let status = withExtendedLifetime(registration) { MilterCallbacks.serve() }
        notifier.stopping()
        // libmilter does not wait for work in flight: let every running callback finish (a
        // message at end of message gets its signature or its header and reply). Connections idle
        // between two commands are no longer served by libmilter's workers once it stops; the MTA
        // then applies milter_default_action (tempfail) and the client sends the message again.
        let deadline = Date().addingTimeInterval(TimeInterval(drainSeconds))
        while busyCallbacks.withLock({ $0 }) > 0 && Date() < deadline { usleep(20_000) }
        let busy = busyCallbacks.withLock { $0 }
        if busy > 0 { log.error("stopping with \(busy) message(s) still being processed after \(drainSeconds) s") }
        let open = liveConnections.withLock { $0 }
        if open > 0 { log.info("\(open) idle connection(s) closed at stop; the MTA retries their next message") }
        if let pidFile { unlink(pidFile) }
        log.info("stopped")
        return status == 0 ? 0 : 1
    }

    /// setgid/initgroups/setuid to a user (`user` or `user:group`); nil on success, else why not.
    static func dropPrivileges(to spec: String) -> String? {
        let parts = spec.split(separator: ":").map(String.init)
        guard let pw = getpwnam(parts[0]) else { return "UserID \(spec): there is no user \(parts[0])" }
        var gid = pw.pointee.pw_gid
        if parts.count > 1 {
            guard let gr = getgrnam(parts[1]) else { return "UserID \(spec): there is no group \(parts[1])" }
            gid = gr.pointee.gr_gid
        }
        let uid = pw.pointee.pw_uid
        guard getuid() == 0 || getuid() == uid else { return "UserID \(spec): only root can change to another user" }
        if getuid() == 0 {
            guard setgroups(0, nil) == 0 || initgroups(parts[0], gid) == 0,
                  setgid(gid) == 0, setuid(uid) == 0 else {
                return "UserID \(spec): cannot change to that user: \(String(cString: strerror(errno)))"
            }
            // Make sure root cannot be regained.
            if setuid(0) == 0 { return "UserID \(spec): root privileges could be regained; refusing to run" }
        }
        return nil
    }
}
