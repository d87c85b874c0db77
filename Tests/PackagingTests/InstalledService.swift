import DKIMTestSupport
import Foundation
import Glibc
import MilterClient

/// dkim-milter started in a root as systemd starts the installed unit, read from the unit file:
/// each ExecStartPre= in order (a `+` one as root), then ExecStart= as User=/Group= with UMask=,
/// no capabilities and no new privileges (setpriv), a clean environment, and a NOTIFY_SOCKET of
/// the test's own: it counts as started, as under systemd, when READY=1 arrives.
final class InstalledService {
    struct Failure: Error, CustomStringConvertible { var description: String }

    let root: DebianRoot
    let process: SpawnedProcess
    let notify: NotifySocket
    let logPath: String
    let user: String
    let directives: [(key: String, value: String)]

    /// The directives of a unit file, in order (`Key=value` lines outside comments).
    static func directives(of text: String) -> [(key: String, value: String)] {
        text.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#"), !line.hasPrefix(";"), let eq = line.firstIndex(of: "=") else { return nil }
            return (String(line[..<eq]), String(line[line.index(after: eq)...]))
        }
    }

    init(in root: DebianRoot, unit: String = "/lib/systemd/system/dkim-milter.service") throws {
        self.root = root
        guard let text = root.read(unit) else { throw Failure(description: "no unit at \(unit)") }
        let directives = Self.directives(of: text)
        self.directives = directives
        func value(_ key: String) -> String? { directives.last { $0.key == key }?.value }
        user = value("User") ?? "root"
        let group = value("Group") ?? user
        let umask = value("UMask") ?? "0022"
        let asService = ["setpriv", "--reuid=\(user)", "--regid=\(group)", "--init-groups", "--no-new-privs",
                         "--bounding-set=-all", "--inh-caps=-all", "--", "/bin/sh", "-c",
                         "umask \(umask) && exec \"$@\"", "sh"]
        for pre in directives.filter({ $0.key == "ExecStartPre" }).map(\.value) {
            if pre.hasPrefix("+") {
                try root.run(pre.dropFirst().split(separator: " ").map(String.init))
            } else {
                try root.run(asService + pre.split(separator: " ").map(String.init))
            }
        }
        guard let start = value("ExecStart") else { throw Failure(description: "no ExecStart in \(unit)") }
        notify = try NotifySocket(path: root.path + "/run/dkim-test-notify.sock")
        logPath = root.path + "/dkim-milter-test.log"
        let environment = ["/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
                           "NOTIFY_SOCKET=/run/dkim-test-notify.sock"]
        process = try SpawnedProcess("/usr/bin/unshare",
                                     root.chrootCommand(environment + asService
                                                        + start.split(separator: " ").map(String.init)),
                                     output: logPath)
        guard notify.receive(until: "READY=1", timeout: 60) != nil else {
            process.stop()
            throw Failure(description: "no READY=1 from \(start): \(log)")
        }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// SIGTERM (what `systemctl stop` sends); true when STOPPING=1 came and the process ended.
    @discardableResult
    func stop() -> Bool {
        guard process.isRunning else { return false }
        kill(process.pid, SIGTERM)
        let stopping = notify.receive(until: "STOPPING=1", timeout: 20) != nil
        process.stop(timeout: 30)
        return stopping && !process.isRunning
    }

    /// The socket as the host reaches it (`path` inside the root).
    func socket(_ path: String) -> String { "unix:" + root.path + path }
}

/// A message from an authenticated user of example.com, signed by the milter, checked by dkimpy.
enum SigningCheck {
    static let message = Array("""
        From: Alice <alice@example.com>\r
        To: bob@example.org\r
        Subject: packaged\r
        Date: Tue, 01 Dec 2026 10:00:00 +0000\r
        Message-ID: <package-test@example.com>\r
        \r
        Signed by the installed milter.\r

        """.utf8)

    /// Sends `message` through the milter at `socket` as an authenticated client; the message as
    /// Postfix would pass it on.
    static func sign(socket: String, from sender: String = "<alice@example.com>") throws -> [UInt8] {
        let c = try MilterConnection(socket: socket, timeout: 20)
        try c.negotiate()
        _ = try c.connect(hostname: "client.example.net", address: "203.0.113.5")
        let r = try c.send(message: message, sender: sender,
                           mailMacros: ["{auth_authen}": "alice", "{auth_type}": "PLAIN"])
        try c.quit()
        return r.message
    }

    /// dkimpy's verdicts ("1 pass", ...) on `signed` with `record` published at `name`.
    static func dkimpy(_ signed: [UInt8], name: String, record: String) throws -> String {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        try "\(name)\t\(record)\n".write(toFile: dir + "/records.txt", atomically: true, encoding: .utf8)
        try Data(signed).write(to: URL(fileURLWithPath: dir + "/signed.eml"))
        let oracle = Fixtures.repositoryRoot + "/Tests/InteropTests/Scripts/dkimpy_oracle.py"
        let r = try ProcessRunner.run("/usr/bin/python3", [oracle, "verify", "--records", dir + "/records.txt", "-v",
                                                           dir + "/signed.eml"])
        return r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) + (r.status == 0 ? "" : " (\(r.stderr))")
    }

    /// The TXT value `dkimkey generate` prints for a web DNS panel (the line after the prompt).
    static func record(fromGenerateOutput out: String) -> String? {
        let lines = out.split(separator: "\n").map(String.init)
        guard let i = lines.firstIndex(where: { $0.contains("paste this value as one line") }),
              i + 1 < lines.count else {
            return nil
        }
        return lines[i + 1]
    }
}
