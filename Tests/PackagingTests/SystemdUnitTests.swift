import DKIMTestSupport
import Foundation
import Testing

/// The unit file: what it promises, what systemd-analyze says of it (no running systemd is
/// needed for either analysis), and, installed with systemd, that it verifies.
extension Packaging {
    @Suite struct SystemdUnitTests {
        static let unit = Fixtures.repositoryRoot + "/contrib/systemd/dkim-milter.service"

        /// systemd-analyze's exposure score of a unit file (0 safest, 10 none), read offline.
        static func exposure(rootWithUnit root: String, tool: [String] = ["/usr/bin/systemd-analyze"]) throws
            -> (score: Double, report: String) {
            let r = try ProcessRunner.run(tool[0], Array(tool.dropFirst()) + ["security", "--offline=yes",
                                          "--root=\(root)", "--no-pager", "dkim-milter.service"])
            let line = r.stdoutText.split(separator: "\n").first { $0.contains("Overall exposure level") } ?? ""
            let score = line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) }
            return (score ?? 99, r.stdoutText + r.stderr)
        }

        @Test func theUnitIsTypeNotifyChecksTheConfigurationFirstReloadsWithSIGUSR1AndHoldsNoCapability() throws {
            let text = try String(contentsOfFile: Self.unit, encoding: .utf8)
            let d = InstalledService.directives(of: text)
            func values(_ key: String) -> [String] { d.filter { $0.key == key }.map(\.value) }
            #expect(values("Type") == ["notify"])
            #expect(values("User") == ["dkim-milter"] && values("Group") == ["dkim-milter"])
            #expect(values("ExecStartPre").last
                    == "/usr/sbin/dkim-milter --check-config /etc/dkim-milter/dkim-milter.conf")
            #expect(values("ExecStart") == ["/usr/sbin/dkim-milter --config /etc/dkim-milter/dkim-milter.conf"])
            #expect(values("ExecReload") == [#"/bin/sh -c 'kill -USR1 "$MAINPID"'"#])
            #expect(values("CapabilityBoundingSet") == [""] && values("AmbientCapabilities") == [""])
            for (key, value) in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                                 ("PrivateTmp", "yes"), ("PrivateDevices", "yes"),
                                 ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
                                 ("ReadWritePaths", "-/run/dkim-milter -/var/spool/postfix/dkim-milter")] {
                #expect(values(key) == [value], "\(key)")
            }
            #expect(values("SystemCallFilter").first == "@system-service")
        }

        /// systemd-analyze security rates the unit 2.0 or less ("OK"), offline.
        @Test func systemdAnalyzeRatesTheUnitsExposureAtMostTwo() throws {
            let root = try Fixtures.makeTemporaryDirectory()
            defer { Fixtures.removeTemporaryDirectory(root) }
            let units = root + "/etc/systemd/system"
            try FileManager.default.createDirectory(atPath: units, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: Self.unit, toPath: units + "/dkim-milter.service")
            let (score, report) = try Self.exposure(rootWithUnit: root)
            #expect(score <= 2.0, "\(report)")
            print("systemd-analyze security dkim-milter.service: exposure \(score)")
        }

        /// In a Debian 12 root with systemd and man-db: the installed unit verifies (its programs,
        /// its man pages), and rates the same.
        @Test func installedWithSystemdTheUnitVerifiesWithItsProgramsAndManPages() throws {
            let deb = try DebianPackages.build().first
            let root = try DebianRoot()
            defer { root.remove() }
            try root.aptInstall(["systemd", "man-db"])
            try root.aptInstall([try root.copy(deb, to: "/root/" + (deb as NSString).lastPathComponent)])
            // With systemd there, the postinst made the user from the package's sysusers.d entry.
            #expect(root.user("dkim-milter") != nil)
            let verify = try root.run(["systemd-analyze", "verify", "dkim-milter.service"], check: false)
            #expect(verify.status == 0 && verify.stderr.isEmpty, "\(verify.stdoutText)\(verify.stderr)")
            let inside = try root.run(["systemd-analyze", "security", "--offline=yes", "--no-pager",
                                       "dkim-milter.service"], check: false).stdoutText
            let line = inside.split(separator: "\n").first { $0.contains("Overall exposure level") } ?? ""
            #expect(line.contains(": 1.") || line.contains(": 0.") || line.contains(": 2.0 "), "\(inside)")
            let wanted = "/etc/systemd/system/multi-user.target.wants/dkim-milter.service"
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: root.path + wanted))
                    == "/lib/systemd/system/dkim-milter.service", "the unit is enabled on install")
        }
    }
}
