import DKIMTestSupport
import Foundation
import Glibc

/// A fresh Debian 12 root (contrib/debian/test-root.sh: debootstrap once, then an untar) in a
/// temporary folder, with commands run in it through chroot(8) and /proc mounted in a private
/// mount namespace (gone when the command ends; the Swift runtime reads its arguments there).
/// Downloaded packages are kept in .build-deb/apt-archives for the next root. Removed on `remove()`.
final class DebianRoot {
    struct Failure: Error, CustomStringConvertible { var description: String }

    let path: String
    static let archives = Fixtures.repositoryRoot + "/.build-deb/apt-archives"
    private static let copyDebs = "cp -n \"$0\"/*.deb \"$1\"/ 2>/dev/null || true"

    init() throws {
        path = NSTemporaryDirectory() + "dkim-root-" + UUID().uuidString
        let made = try ProcessRunner.run(Fixtures.repositoryRoot + "/contrib/debian/test-root.sh", [path],
                                         timeout: 900)
        guard made.status == 0 else {
            try? FileManager.default.removeItem(atPath: path)
            throw Failure(description: "test-root.sh \(path) failed: \(made.stderr)")
        }
    }

    /// The command line (for unshare) that runs `command` inside the root with /proc mounted, in a
    /// network namespace of its own unless `network` (only apt needs Debian's mirror): what runs
    /// there, the milter's DNS lookups included, reaches no address but its own loopback.
    func chrootCommand(_ command: [String], network: Bool = false) -> [String] {
        ["--mount", "--propagation", "private"] + (network ? [] : ["--net"])
            + ["/bin/sh", "-c", "mount -t proc proc \"$0/proc\" && exec chroot \"$0\" \"$@\"", path] + command
    }

    /// Runs `command` inside the root (as root, PATH of a root shell); fails the test on a non-zero
    /// exit unless `check` is false.
    @discardableResult
    func run(_ command: [String], input: String = "", check: Bool = true, timeout: TimeInterval = 300,
             environment: [String: String] = [:], network: Bool = false) throws -> ProcessRunner.Result {
        var env = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
                   "DEBIAN_FRONTEND": "noninteractive", "HOME": "/root"]
        env.merge(environment) { $1 }
        let r = try ProcessRunner.run("/usr/bin/unshare", chrootCommand(command, network: network),
                                      input: Array(input.utf8),
                                      environment: env, timeout: timeout)
        if check && (r.status != 0 || r.timedOut) {
            throw Failure(description: "in the root: \(command.joined(separator: " ")) exited \(r.status)"
                + (r.timedOut ? " (timed out)" : "") + ":\n\(r.stdoutText.suffix(3000))\n\(r.stderr.suffix(3000))")
        }
        return r
    }

    /// A shell script inside the root (`sh -ec`).
    @discardableResult
    func sh(_ script: String, check: Bool = true, timeout: TimeInterval = 300) throws -> ProcessRunner.Result {
        try run(["/bin/sh", "-ec", script], check: check, timeout: timeout)
    }

    /// The names of the installed packages.
    func installedPackages() throws -> Set<String> {
        let out = try run(["dpkg-query", "-W", "-f", "${Package}\\n"]).stdoutText
        return Set(out.split(separator: "\n").map(String.init))
    }

    /// `apt-get install` inside the root (packages by name or as ./file.deb copied in), with the
    /// downloads cached between runs.
    func aptInstall(_ packages: [String], debconf: String = "") throws {
        try FileManager.default.createDirectory(atPath: Self.archives, withIntermediateDirectories: true)
        let inside = path + "/var/cache/apt/archives"
        _ = try ProcessRunner.run("/bin/sh", ["-c", Self.copyDebs, Self.archives, inside])
        if !debconf.isEmpty { try run(["debconf-set-selections"], input: debconf) }
        if !FileManager.default.fileExists(atPath: path + "/var/lib/apt/lists/updated") {
            try run(["apt-get", "update", "-qq"], timeout: 600, network: true)
            FileManager.default.createFile(atPath: path + "/var/lib/apt/lists/updated", contents: nil)
        }
        try run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                 "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"] + packages,
                timeout: 900, network: true)
        _ = try ProcessRunner.run("/bin/sh", ["-c", Self.copyDebs, inside, Self.archives])
    }

    /// A copy of a host file at `target` inside the root (its folder made); returns the inside path.
    @discardableResult
    func copy(_ host: String, to target: String) throws -> String {
        let full = path + target
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: full)
        try FileManager.default.copyItem(atPath: host, toPath: full)
        return target
    }

    /// A file inside the root, read from the host.
    func read(_ inside: String) -> String? {
        try? String(contentsOfFile: path + inside, encoding: .utf8)
    }

    /// stat(2) of a path inside the root.
    func stat(_ inside: String) -> Glibc.stat? {
        var st = Glibc.stat()
        return lstat(path + inside, &st) == 0 ? st : nil
    }

    /// uid and gid of a user of the root's /etc/passwd.
    func user(_ name: String) -> (uid: uid_t, gid: gid_t)? {
        for line in (read("/etc/passwd") ?? "").split(separator: "\n") {
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            if f.count > 3, f[0] == name, let u = uid_t(f[2]), let g = gid_t(f[3]) { return (u, g) }
        }
        return nil
    }

    /// gid of a group of the root's /etc/group.
    func group(_ name: String) -> gid_t? {
        for line in (read("/etc/group") ?? "").split(separator: "\n") {
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            if f.count > 2, f[0] == name { return gid_t(f[2]) }
        }
        return nil
    }

    /// Deletes the root; refuses while anything is mounted under it (a milter still running).
    func remove() {
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        guard !mounts.contains(" \(path)/") else { return }
        try? FileManager.default.removeItem(atPath: path)
    }
}
