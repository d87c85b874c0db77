import DKIMTestSupport
import Foundation
import Glibc
import Testing

/// contrib/install.sh, for systems without the .deb: into a fresh root, twice.
extension Packaging {
    @Suite struct InstallScriptTests {
        /// Every path under the root that install.sh may touch, with its owner, mode and content.
        static func snapshot(_ root: DebianRoot) throws -> String {
            try root.sh("""
                find /usr/local /etc/dkim-milter /etc/passwd /etc/group /run/dkim-milter -xdev \
                    \\( -type f -o -type d \\) -printf '%p %U:%G %m\\n' | sort
                find /usr/local /etc/dkim-milter /etc/passwd /etc/group /etc/shadow -xdev -type f \\
                    -exec md5sum {} + | sort
                """).stdoutText
        }

        /// The second run changes nothing; the unit it installed starts the milter as its user,
        /// which signs with a key dkimkey made.
        @Test func runTwiceIntoARootItChangesNothingTheSecondTimeAndTheMilterItInstalledSigns() throws {
            // The release build it takes the programs from; the libraries they load, as the .deb names them.
            let deb = try DebianPackages.build().first
            let root = try DebianRoot()
            defer { root.remove() }
            try root.aptInstall(try DebianPackages.field(deb, "Depends").split(separator: ",")
                .compactMap { $0.split(separator: " ").first.map(String.init) })
            let install = { () throws -> ProcessRunner.Result in
                let r = try ProcessRunner.run(Fixtures.repositoryRoot + "/contrib/install.sh",
                                              ["--root", root.path, "--bin-dir",
                                               Fixtures.repositoryRoot + "/.build-deb/swift/release", "/usr/local"],
                                              currentDirectory: Fixtures.repositoryRoot, timeout: 900)
                if r.status != 0 { throw DebianRoot.Failure(description: "install.sh: \(r.stderr.suffix(3000))") }
                return r
            }
            _ = try install()
            let first = try Self.snapshot(root)
            _ = try install()
            #expect(try Self.snapshot(root) == first)
            for path in ["/usr/local/sbin/dkim-milter", "/usr/local/bin/dkimkey",
                         "/usr/local/lib/systemd/system/dkim-milter.service",
                         "/usr/local/lib/sysusers.d/dkim-milter.conf",
                         "/usr/local/share/man/man8/dkim-milter.8.gz",
                         "/usr/local/share/man/man5/dkim-milter.conf.5.gz",
                         "/usr/local/share/man/man1/dkimkey-generate.1.gz",
                         "/usr/local/share/bash-completion/completions/dkimkey",
                         "/usr/local/share/zsh/site-functions/_dkimkey", "/etc/dkim-milter/dkim-milter.conf"] {
                #expect(root.stat(path) != nil, "\(path)")
            }
            let unit = try #require(root.read("/usr/local/lib/systemd/system/dkim-milter.service"))
            #expect(unit.contains("ExecStart=/usr/local/sbin/dkim-milter --config /etc/dkim-milter/dkim-milter.conf"))
            #expect(unit.contains("ExecStartPre=+/usr/local/libexec/dkim-milter/prepare-socket-directories"))
            let user = try #require(root.user("dkim-milter"))
            let store = try #require(root.stat("/etc/dkim-milter/keys"))
            #expect(store.st_uid == user.uid && store.st_mode & 0o7777 == 0o700)
            let made = try root.run(["runuser", "-u", "dkim-milter", "--", "/usr/local/bin/dkimkey", "generate",
                                     "inst2026",
                                     "--domain", "example.com", "--keys-dir", "/etc/dkim-milter/keys"])
            let record = try #require(SigningCheck.record(fromGenerateOutput: made.stdoutText), "\(made.stdoutText)")
            let service = try InstalledService(in: root, unit: "/usr/local/lib/systemd/system/dkim-milter.service")
            defer { service.stop() }
            let signed = try SigningCheck.sign(socket: service.socket("/run/dkim-milter/dkim-milter.sock"))
            let verdict = try SigningCheck.dkimpy(signed, name: "inst2026._domainkey.example.com", record: record)
            #expect(verdict == "1 pass")
        }
    }
}
