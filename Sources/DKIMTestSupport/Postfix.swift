import Foundation
import Glibc

/// One Postfix instance: its own config, queue and data directories, one smtpd on 127.0.0.1,
/// relaying everything to `relayhost`. `master` runs in the foreground in a session of its own.
/// How such an instance is run, and why each setting: ../shared/notes/postfix-testing.md.
public final class Postfix {
    public static let user: (uid: uid_t, gid: gid_t) = {
        guard let pw = getpwnam("postfix") else { return (0, 0) }
        return (pw.pointee.pw_uid, pw.pointee.pw_gid)
    }()

    public static let daemonDirectory: String = {
        let r = try? ProcessRunner.run("/usr/sbin/postconf", ["-dh", "daemon_directory"], timeout: 30)
        let d = r?.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return d.isEmpty ? "/usr/lib/postfix/sbin" : d
    }()

    public static func requireInstalled() throws {
        guard getuid() == 0 else {
            throw SMTPClient.Failure("Postfix's master must run as root: run the tests as root (contrib/test.sh)")
        }
        let tools = ["/usr/sbin/postfix", "/usr/sbin/smtp-sink", "/usr/bin/script"]
        for tool in tools where !FileManager.default.isExecutableFile(atPath: tool) {
            throw SMTPClient.Failure(
                "\(tool) is missing: run contrib/setup.sh (it installs postfix with no system-wide configuration)")
        }
    }

    public let directory: String
    public let name: String
    public let port: Int
    public var configDirectory: String { directory + "/etc" }
    public var queueDirectory: String { directory + "/queue" }
    public var logFile: String { directory + "/maillog" }
    private var master: SpawnedProcess?

    /// The pid of `master` while it runs: the process group of every Postfix daemon of this instance.
    public var masterPID: pid_t? { master?.pid }

    public init(directory: String, name: String, port: Int, relayhost: String, settings: [String: String]) throws {
        self.directory = directory
        self.name = name
        self.port = port
        let fm = FileManager.default
        for d in [directory, configDirectory, queueDirectory, directory + "/data"] {
            try fm.createDirectory(atPath: d, withIntermediateDirectories: true)
            chmod(d, 0o755)
        }
        chown(directory + "/data", Self.user.uid, Self.user.gid)

        var main: [(String, String)] = [
            ("compatibility_level", "3.6"),
            ("queue_directory", queueDirectory),
            ("data_directory", directory + "/data"),
            ("myhostname", "\(name).test.example"),
            ("syslog_name", "postfix-\(name)"),
            ("maillog_file_prefixes", directory),
            ("maillog_file", logFile),
            ("inet_interfaces", "127.0.0.1"),
            ("inet_protocols", "ipv4"),
            ("mydestination", ""),
            ("local_recipient_maps", ""),
            ("alias_maps", ""),
            ("alias_database", ""),
            ("mynetworks", "127.0.0.0/8"),
            ("smtpd_relay_restrictions", "permit_mynetworks, reject"),
            ("smtpd_peername_lookup", "no"),
            ("smtpd_tls_security_level", "none"),
            ("smtp_tls_security_level", "none"),
            ("enable_long_queue_ids", "yes"),
            ("in_flow_delay", "0"),
            ("relayhost", relayhost),
        ]
        for (k, v) in settings.sorted(by: { $0.key < $1.key }) { main.append((k, v)) }
        try main.map { "\($0.0) = \($0.1)\n" }.joined()
            .write(toFile: configDirectory + "/main.cf", atomically: true, encoding: .utf8)

        // One smtpd on our port and the internal services, none chrooted.
        let services = [
            "127.0.0.1:\(port) inet n - n - - smtpd",
            "pickup unix n - n 60 1 pickup",
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "rewrite unix - - n - - trivial-rewrite",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
            "verify unix - - n - 1 verify",
            "flush unix n - n 1000? 0 flush",
            "proxymap unix - - n - - proxymap",
            "smtp unix - - n - - smtp",
            "relay unix - - n - - smtp",
            "showq unix n - n - - showq",
            "error unix - - n - - error",
            "retry unix - - n - - error",
            "discard unix - - n - - discard",
            "anvil unix - - n - 1 anvil",
            "scache unix - - n - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd",
        ]
        try (services.joined(separator: "\n") + "\n")
            .write(toFile: configDirectory + "/master.cf", atomically: true, encoding: .utf8)

        // `postfix check` makes the queue subdirectories; it speaks only to a terminal, hence script(1).
        let check = try ProcessRunner.run("/usr/bin/script",
                                          ["-qec", "/usr/sbin/postfix -c '\(configDirectory)' check", "/dev/null"],
                                          timeout: 60)
        let output = check.stdoutText + check.stderr
        guard check.status == 0, !output.contains("fatal:") else {
            throw SMTPClient.Failure("postfix check failed (\(check.status)): \(output)")
        }
    }

    /// Starts `master -d` in a new session (it leads its own process group, as its SIGTERM handling
    /// needs) and waits until the SMTP port answers.
    public func start() throws {
        let master = try SpawnedProcess(Self.daemonDirectory + "/master", ["-c", configDirectory, "-d"],
                                        output: directory + "/master.out")
        self.master = master
        guard Loopback.waitUntilListening(port, alive: { master.isRunning }) else {
            stop()
            throw SMTPClient.Failure("Postfix \(name) did not start: \(masterOutput)\n\(log)")
        }
    }

    /// SIGTERM to master (SIGKILL after 15 s), then waits for the rest of its process group (master
    /// signals it) and ends what is left of it by PID.
    public func stop() {
        guard let master else { return }
        self.master = nil
        master.stop(timeout: 15)
        let deadline = Date().addingTimeInterval(5)
        var left = Self.processes(inGroup: master.pid)
        while !left.isEmpty && Date() < deadline {
            usleep(50_000)
            left = Self.processes(inGroup: master.pid)
        }
        for p in left { kill(p, SIGKILL) }
    }

    /// The live (not zombie) processes whose process group is `group`, from /proc.
    public static func processes(inGroup group: pid_t) -> [pid_t] {
        ProcStat.processes(inGroup: group).map(\.pid)
    }

    public var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }
    public var masterOutput: String { (try? String(contentsOfFile: directory + "/master.out", encoding: .utf8)) ?? "" }

    /// Waits (up to `timeout` seconds) until the log holds `text`; postlogd writes it a little later.
    public func logContains(_ text: String, timeout: TimeInterval = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !log.contains(text) && Date() < deadline { usleep(50_000) }
        return log.contains(text)
    }

    /// The files in the queues that hold mail not yet delivered.
    public var queuedFiles: [String] {
        ["maildrop", "incoming", "active", "deferred", "hold"].flatMap { q -> [String] in
            let root = queueDirectory + "/" + q
            guard let e = FileManager.default.enumerator(atPath: root) else { return [] }
            return e.compactMap { $0 as? String }.filter { path in
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &isDirectory)
                    && !isDirectory.boolValue
            }.map { q + "/" + $0 }
        }
    }

    /// Asks qmgr to retry deferred mail now (otherwise it waits minimal_backoff_time).
    public func flush() throws {
        _ = try ProcessRunner.run("/usr/sbin/postqueue", ["-c", configDirectory, "-f"], timeout: 30)
    }

    /// Waits (bounded) until every queue is empty; throws with the log when mail stays.
    public func waitUntilQueueIsEmpty(timeout: TimeInterval = 30) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !queuedFiles.isEmpty {
            if Date() > deadline {
                throw SMTPClient.Failure("Postfix \(name) still holds \(queuedFiles) after \(Int(timeout)) s:\n\(log)")
            }
            usleep(50_000)
        }
    }

    deinit { stop() }
}

