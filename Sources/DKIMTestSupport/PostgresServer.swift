import Foundation
import Glibc

/// A PostgreSQL server of a test's own: initdb into a temporary directory, postgres listening on a
/// unix socket in that directory and on 127.0.0.1 at a free port, stopped (or killed, to play a
/// crash) by its own pid. Debian's cluster on port 5432, if its package started one, is never used.
///
/// PostgreSQL refuses to run as root, so as root (CI) initdb and postgres run as `nobody` through
/// setpriv (no PAM, no login shell: nobody's /usr/sbin/nologin and missing home do not matter);
/// as anyone else they run as that user. Authentication (pg_hba.conf from initdb's flags): the
/// unix socket trusts every local user (the tests' administration through psql, and datasets
/// "over the socket"); TCP on 127.0.0.1 asks for a SCRAM-SHA-256 password (the roles made by
/// `createRole`). fsync is off (the data dies with the test), but a commit still reaches the
/// kernel before it returns (synchronous_commit stays on), so `kill` loses nothing committed.
public final class PostgresServer: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible { public var description: String }

    /// The temporary directory: the cluster in data/, the socket, the server's log.
    public let directory: String
    /// The directory of the unix socket (libpq's `host` for it).
    public var socketDirectory: String { directory }
    public private(set) var port: Int
    public let superuser = "postgres"
    public let binaries: String
    public var logPath: String { directory + "/postgres.log" }
    private var process: SpawnedProcess?

    /// Makes the cluster and starts the server; `settings` are extra `-c name=value`.
    public init(settings: [String: String] = [:]) throws {
        guard let binaries = Self.findBinaries() else {
            throw Failure(description: "no PostgreSQL server in /usr/lib/postgresql/*/bin "
                + "(contrib/setup.sh installs it)")
        }
        self.binaries = binaries
        var template = Array("/tmp/dkim-pg.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw Failure(description: "mkdtemp failed") }
        directory = String(cString: made)
        guard let port = Self.freePort() else { throw Failure(description: "no free port on 127.0.0.1") }
        self.port = port
        self.settings = settings
        if geteuid() == 0 {
            guard chown(directory, Self.nobody.uid, Self.nobody.gid) == 0 else {
                throw Failure(description: "chown \(directory): \(String(cString: strerror(errno)))")
            }
        }
        let initdb = try ProcessRunner.run(Self.asServerUser[0], Array(Self.asServerUser.dropFirst()) + [
            binaries + "/initdb", "-D", directory + "/data", "-U", superuser, "--auth-local=trust",
            "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
        ], timeout: 60)
        guard initdb.status == 0 else {
            throw Failure(description: "initdb failed (\(initdb.status)): \(initdb.stderr)")
        }
        // The free port may be taken again before postgres binds it (another test's server, or a
        // client's ephemeral port): try others.
        for attempt in 1...5 {
            do {
                try start()
                break
            } catch let failure as Failure where attempt < 5 && failure.description.contains("could not bind") {
                guard let other = Self.freePort() else { throw failure }
                self.port = other
            }
        }
    }

    private let settings: [String: String]

    deinit {
        stop()
        _ = try? ProcessRunner.run("/bin/rm", ["-rf", directory], timeout: 60)
    }

    /// Starts the server (again, after `stop` or `kill`) and waits until it accepts connections
    /// (pg_isready, at most 30 s).
    public func start() throws {
        guard process?.isRunning != true else { return }
        var arguments = Array(Self.asServerUser.dropFirst()) + [
            binaries + "/postgres", "-D", directory + "/data", "-k", directory, "-p", String(port),
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off",
            "-c", "max_connections=60",
        ]
        for (name, value) in settings.sorted(by: { $0.key < $1.key }) { arguments += ["-c", "\(name)=\(value)"] }
        process = try SpawnedProcess(Self.asServerUser[0], arguments, output: logPath)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let ready = try ProcessRunner.run(binaries + "/pg_isready", ["-q", "-h", directory, "-p", String(port),
                                                                          "-U", superuser], timeout: 10)
            if ready.status == 0 { return }
            guard process?.isRunning == true else { break }
            usleep(50_000)
        }
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        throw Failure(description: "postgres did not start: \(log.suffix(2000))")
    }

    /// Fast shutdown (SIGINT: clients are disconnected, the server stops cleanly), SIGKILL to its
    /// process group after 10 s.
    public func stop() {
        guard let process, process.isRunning else { return }
        Glibc.kill(process.pid, SIGINT)
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill() }
    }

    /// A crash: SIGKILL to the postmaster and to each of its processes (backends, checkpointer, …;
    /// each leads a session of its own, PostgreSQL's children call setsid(), so they are found by
    /// their parent pid), returning once they are gone. The files stay; `start` recovers them.
    public func kill() {
        guard let process, process.isRunning else { return }
        let children = Self.children(of: process.pid)
        Glibc.kill(process.pid, SIGKILL)
        for child in children { Glibc.kill(child, SIGKILL) }
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        while Date() < deadline, children.contains(where: Self.isAlive) { usleep(10_000) }
    }

    /// A hung server: SIGSTOP to the postmaster and its processes (`resume` sends SIGCONT). Its
    /// sockets stay open: connections are accepted by the kernel and never answered.
    public func freeze() { signalAll(SIGSTOP) }

    public func resume() { signalAll(SIGCONT) }

    private func signalAll(_ signal: Int32) {
        guard let process, process.isRunning else { return }
        Glibc.kill(process.pid, signal)
        for child in Self.children(of: process.pid) { Glibc.kill(child, signal) }
    }

    /// The processes whose parent is `pid` (from /proc/N/stat).
    private static func children(of pid: pid_t) -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { name in
            guard let child = pid_t(name), let fields = stat(of: child), fields.parent == pid else { return nil }
            return child
        }
    }

    /// The state and parent of a process: /proc/N/stat is "pid (comm) state ppid …".
    private static func stat(of pid: pid_t) -> (state: Character, parent: pid_t)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 2, let state = fields[0].first, let parent = pid_t(fields[1]) else { return nil }
        return (state, parent)
    }

    private static func isAlive(_ pid: pid_t) -> Bool {
        guard let state = stat(of: pid)?.state else { return false }
        return state != "Z" && state != "X"
    }

    public var pid: pid_t? { process?.isRunning == true ? process?.pid : nil }

    /// Runs SQL through psql as the superuser over the socket (ON_ERROR_STOP) and returns what it
    /// printed (unaligned, tuples only).
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws -> String {
        let result = try ProcessRunner.run(binaries + "/psql", [
            "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", directory, "-p", String(port), "-U", superuser,
            "-d", database, "-f", "-",
        ], input: Array(sql.utf8), timeout: 120)
        guard result.status == 0 else {
            throw Failure(description: "psql failed (\(result.status)): \(result.stderr)")
        }
        return result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A login role with a password (SCRAM-SHA-256, PostgreSQL 15's default password_encryption).
    public func createRole(_ name: String, password: String?) throws {
        let quoted = password.map { " PASSWORD '" + $0.replacingOccurrences(of: "'", with: "''") + "'" } ?? ""
        try psql("CREATE ROLE \"\(name)\" LOGIN\(quoted);")
    }

    public func createDatabase(_ name: String, owner: String) throws {
        try psql("CREATE DATABASE \"\(name)\" OWNER \"\(owner)\";")
    }

    // MARK: private

    private static let nobody: (uid: uid_t, gid: gid_t) = {
        guard let pw = getpwnam("nobody") else { return (65534, 65534) }
        return (pw.pointee.pw_uid, pw.pointee.pw_gid)
    }()

    /// The command prefix that runs a program as the server's user.
    private static var asServerUser: [String] {
        geteuid() == 0
            ? ["/usr/bin/setpriv", "--reuid=\(nobody.uid)", "--regid=\(nobody.gid)", "--clear-groups", "--"]
            : ["/usr/bin/env"]
    }

    /// The newest /usr/lib/postgresql/N/bin holding postgres.
    private static func findBinaries() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        return versions.map { "\(root)/\($0)/bin" }
            .first { FileManager.default.isExecutableFile(atPath: $0 + "/postgres") }
    }

    private static func freePort() -> Int? {
        guard let (fd, port) = LoopbackSocket.bound(.tcp) else { return nil }
        close(fd)
        return port
    }
}
