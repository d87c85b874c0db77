import DKIMTestSupport
import Foundation
import Glibc
import Testing

/// The package in a fresh Debian 12 root: `apt-get install ./dkim-milter_….deb`, then what an
/// admin does next, and what removing and purging leave.
extension Packaging {
    @Suite struct DebianInstallTests {
        static let keys = "/etc/dkim-milter/keys"

        /// Installs the package; returns the root and the packages apt added for it.
        static func installed(_ deb: String) throws -> (DebianRoot, Set<String>) {
            let root = try DebianRoot()
            do {
                let before = try root.installedPackages()
                try root.aptInstall([try root.copy(deb, to: "/root/" + (deb as NSString).lastPathComponent)])
                return (root, try root.installedPackages().subtracting(before))
            } catch {
                root.remove()
                throw error
            }
        }

        /// The dependency list is what the programs load (no Swift runtime, as it is linked in), and
        /// the installed milter signs, as its own user, with a key dkimkey made: dkimpy verifies it.
        @Test func onAFreshDebian12ItPullsNoSwiftAndSignsAsItsOwnUserWithAKeyFromDkimkey() throws {
            let deb = try DebianPackages.build().first
            let (root, added) = try Self.installed(deb)
            defer { root.remove() }
            #expect(added.contains("dkim-milter") && added.contains("libmilter1.0.1"), "\(added.sorted())")
            #expect(!added.contains { $0.lowercased().contains("swift") }, "\(added.sorted())")
            #expect(try root.sh("ls /usr/lib/swift /usr/share/swift 2>/dev/null | wc -l").stdoutText
                .trimmingCharacters(in: .whitespacesAndNewlines) == "0")
            let ldd = try root.run(["ldd", "/usr/sbin/dkim-milter", "/usr/bin/dkimkey"]).stdoutText
            #expect(!ldd.contains("not found") && !ldd.contains("swift"), "\(ldd)")
            // The system user, and the key store only it can enter.
            let user = try #require(root.user("dkim-milter"))
            #expect(user.uid < 1000 && root.read("/etc/passwd")?.contains(":/nonexistent:/usr/sbin/nologin") == true)
            let store = try #require(root.stat(Self.keys))
            #expect(store.st_uid == user.uid && store.st_mode & 0o7777 == 0o700)
            #expect(root.stat("/run/dkim-milter").map { $0.st_mode & 0o7777 == 0o2750 && $0.st_uid == user.uid }
                    == true)
            // The admin makes a key as the service user, then starts the service.
            let made = try root.run(["runuser", "-u", "dkim-milter", "--", "dkimkey", "generate", "pkg2026",
                                     "--domain", "example.com", "--keys-dir", Self.keys])
            let record = try #require(SigningCheck.record(fromGenerateOutput: made.stdoutText), "\(made.stdoutText)")
            let service = try InstalledService(in: root)
            defer { service.stop() }
            let socket = try #require(root.stat("/run/dkim-milter/dkim-milter.sock"))
            #expect(socket.st_mode & 0o777 == 0o660 && socket.st_uid == user.uid,
                    "mode \(String(socket.st_mode, radix: 8))")
            let signed = try SigningCheck.sign(socket: service.socket("/run/dkim-milter/dkim-milter.sock"))
            #expect(String(decoding: signed, as: UTF8.self).hasPrefix("DKIM-Signature:"))
            #expect(try SigningCheck.dkimpy(signed, name: "pkg2026._domainkey.example.com", record: record) == "1 pass")
            let status = (try? String(contentsOfFile: "/proc/\(service.process.pid)/status", encoding: .utf8)) ?? ""
            let ids = status.split(separator: "\n").filter { $0.hasPrefix("Uid:") || $0.hasPrefix("CapEff:")
                || $0.hasPrefix("NoNewPrivs:") }.joined(separator: " ")
            let uid = "\(user.uid)"
            #expect(ids == "Uid:\t\(uid)\t\(uid)\t\(uid)\t\(uid) CapEff:\t0000000000000000 NoNewPrivs:\t1",
                    "the milter runs as its user with no capability: \(ids)")
            #expect(service.stop(), "STOPPING=1 and a clean exit at SIGTERM: \(service.log)")
        }

        /// Remove keeps the configuration and the keys; purge deletes the configuration and asks
        /// nothing, and still keeps the keys (and so their folder) and the user.
        @Test func removeKeepsConfigurationAndKeysAndPurgeKeepsOnlyTheKeysAndTheUser() throws {
            let deb = try DebianPackages.build().first
            let (root, _) = try Self.installed(deb)
            defer { root.remove() }
            try root.run(["runuser", "-u", "dkim-milter", "--", "dkimkey", "generate", "kept",
                          "--domain", "example.com", "--keys-dir", Self.keys])
            let key = Self.keys + "/example.com/kept.pem"
            let before = try #require(root.read(key))
            try root.sh("echo '# edited' >> /etc/dkim-milter/dkim-milter.conf")
            try root.run(["apt-get", "remove", "-y", "-qq", "dkim-milter"])
            #expect(root.stat("/usr/sbin/dkim-milter") == nil && root.stat("/usr/bin/dkimkey") == nil)
            #expect(root.read("/etc/dkim-milter/dkim-milter.conf")?.hasSuffix("# edited\n") == true)
            #expect(root.read(key) == before)
            try root.run(["apt-get", "purge", "-y", "-qq", "dkim-milter"], input: "")
            #expect(root.stat("/etc/dkim-milter/dkim-milter.conf") == nil)
            #expect(root.read(key) == before && root.stat(key).map { $0.st_mode & 0o777 == 0o600 } == true)
            #expect(root.user("dkim-milter") != nil)
            let status = try root.run(["dpkg-query", "-W", "-f", "${Status}", "dkim-milter"], check: false).stdoutText
            #expect(!status.contains("ok installed") && !status.contains("config-files"), "\(status)")
            #expect(root.stat("/run/dkim-milter") == nil)
        }
    }
}
