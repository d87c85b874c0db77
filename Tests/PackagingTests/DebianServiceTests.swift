import DKIMTestSupport
import Foundation
import Glibc
import Testing

/// The installed service with Debian's Postfix, and across an upgrade.
extension Packaging {
    @Suite struct DebianServiceTests {
        static let keys = "/etc/dkim-milter/keys"
        static let spoolSocket = "/var/spool/postfix/dkim-milter/dkim-milter.sock"

        static func generateKey(_ root: DebianRoot, selector: String) throws -> String {
            let made = try root.run(["runuser", "-u", "dkim-milter", "--", "dkimkey", "generate", selector,
                                     "--domain", "example.com", "--keys-dir", keys])
            guard let record = SigningCheck.record(fromGenerateOutput: made.stdoutText) else {
                throw DebianRoot.Failure(description: "no record in: \(made.stdoutText)")
            }
            return record
        }

        /// Whether a process of `user` with only the group `group` (as Postfix's daemons run: they
        /// keep no supplementary group) can connect to the unix socket `path` inside the root.
        static func canConnect(_ root: DebianRoot, user: String, group: String, to path: String) throws -> Bool {
            let connect = "use IO::Socket::UNIX; IO::Socket::UNIX->new(Peer => $ARGV[0]) or exit 1; exit 0"
            return try root.run(["setpriv", "--reuid=\(user)", "--regid=\(group)", "--clear-groups", "--",
                                 "perl", "-e", connect, path], check: false).status == 0
        }

        /// Debian's Postfix runs smtpd and cleanup chrooted in /var/spool/postfix: with `Socket auto`
        /// the milter listens in the queue directory, in a setgid directory of group postfix, so a
        /// process with Postfix's only group connects and another user's does not.
        @Test func withDebiansChrootedPostfixTheSocketIsInTheQueueDirectoryAndOnlyPostfixReachesIt() throws {
            let deb = try DebianPackages.build().first
            let root = try DebianRoot()
            defer { root.remove() }
            try root.aptInstall(["postfix"], debconf: "postfix postfix/main_mailer_type select No configuration\n")
            #expect(root.read("/etc/postfix/master.cf")?.contains("smtpd") == true)
            try root.aptInstall([try root.copy(deb, to: "/root/" + (deb as NSString).lastPathComponent)])
            let record = try Self.generateKey(root, selector: "chroot2026")
            let service = try InstalledService(in: root)
            defer { service.stop() }
            let user = try #require(root.user("dkim-milter"))
            let postfix = try #require(root.group("postfix"))
            let directory = try #require(root.stat("/var/spool/postfix/dkim-milter"))
            #expect(directory.st_mode & 0o7777 == 0o2750 && directory.st_uid == user.uid && directory.st_gid == postfix,
                    "mode \(String(directory.st_mode & 0o7777, radix: 8)) gid \(directory.st_gid)")
            let socket = try #require(root.stat(Self.spoolSocket), "\(service.log)")
            #expect(socket.st_mode & 0o777 == 0o660 && socket.st_gid == postfix,
                    "mode \(String(socket.st_mode, radix: 8))")
            #expect(try Self.canConnect(root, user: "postfix", group: "postfix", to: Self.spoolSocket))
            #expect(try !Self.canConnect(root, user: "nobody", group: "nogroup", to: Self.spoolSocket))
            let signed = try SigningCheck.sign(socket: service.socket(Self.spoolSocket))
            let verdict = try SigningCheck.dkimpy(signed, name: "chroot2026._domainkey.example.com", record: record)
            #expect(verdict == "1 pass")
            #expect(service.log.contains("listening on local:\(Self.spoolSocket)"), "\(service.log)")
        }

        /// Version N, its configuration edited, a key made and the service running; then N+1: the
        /// edit, the user and the key are as they were, and the new version signs with that key.
        @Test func anUpgradeKeepsTheEditedConfigurationTheUserAndTheKeys() throws {
            let packages = try DebianPackages.build()
            let root = try DebianRoot()
            defer { root.remove() }
            try root.aptInstall([try root.copy(packages.first, to: "/root/first.deb")])
            let record = try Self.generateKey(root, selector: "up2026")
            try root.sh("sed -i 's/^Canonicalization .*/Canonicalization        relaxed\\/simple/' "
                + "/etc/dkim-milter/dkim-milter.conf && echo 'AuthservID              upgrade.example.org' "
                + ">> /etc/dkim-milter/dkim-milter.conf")
            let edited = try #require(root.read("/etc/dkim-milter/dkim-milter.conf"))
            let user = try #require(root.user("dkim-milter"))
            let keyPath = Self.keys + "/example.com/up2026.pem"
            let key = try #require(root.read(keyPath))
            let keyStat = try #require(root.stat(keyPath))
            let running = try InstalledService(in: root)
            // The reload the unit's ExecReload sends.
            let reload = try #require(running.directives.last { $0.key == "ExecReload" }?.value)
            try root.run(["/bin/sh", "-c", "exec " + reload], environment: ["MAINPID": "\(running.process.pid)"])
            #expect(running.notify.receive(until: "READY=1", timeout: 20)?.first?.hasPrefix("RELOADING=1") == true)
            #expect(running.stop())

            try root.aptInstall([try root.copy(packages.second, to: "/root/second.deb")])
            let version = try root.run(["dpkg-query", "-W", "-f", "${Version}", "dkim-milter"]).stdoutText
            #expect(version.hasSuffix("-2"), "\(version)")
            #expect(root.read("/etc/dkim-milter/dkim-milter.conf") == edited)
            #expect(root.user("dkim-milter").map { $0 == user } == true)
            #expect(root.read(keyPath) == key)
            let after = try #require(root.stat(keyPath))
            #expect(after.st_ino == keyStat.st_ino && after.st_mode == keyStat.st_mode && after.st_uid == keyStat.st_uid
                    && after.st_mtim.tv_sec == keyStat.st_mtim.tv_sec)
            let service = try InstalledService(in: root)
            defer { service.stop() }
            let signed = try SigningCheck.sign(socket: service.socket("/run/dkim-milter/dkim-milter.sock"))
            let text = String(decoding: signed, as: UTF8.self)
            #expect(text.contains("c=relaxed/simple"), "the edited configuration is the one read: \(text.prefix(400))")
            #expect(try SigningCheck.dkimpy(signed, name: "up2026._domainkey.example.com", record: record) == "1 pass")
        }
    }
}
