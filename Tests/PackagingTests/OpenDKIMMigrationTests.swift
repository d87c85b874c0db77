import DKIMTestSupport
import Foundation
import Testing

/// contrib/MIGRATING.md's recipe, run as it stands on a Debian 12 root where the opendkim
/// package signs for example.com (Debian's opendkim.conf, a key made by opendkim-genkey in
/// /etc/dkimkeys). systemd does not run in the root: a systemctl that writes down what it is
/// asked stands in for it, and the test then starts dkim-milter as the enabled unit would.
extension Packaging {
    @Suite struct OpenDKIMMigrationTests {
        static func recipe() throws -> String {
            let guide = try String(contentsOfFile: Fixtures.repositoryRoot + "/contrib/MIGRATING.md", encoding: .utf8)
            guard let begin = guide.range(of: "<!-- recipe:begin -->\n```sh\n"),
                  let end = guide.range(of: "```\n<!-- recipe:end -->") else {
                throw DebianRoot.Failure(description: "no recipe block in contrib/MIGRATING.md")
            }
            return String(guide[begin.upperBound..<end.lowerBound])
        }

        /// The quoted strings of a zone-file TXT line (what opendkim-genkey writes), joined.
        static func txtValue(_ zoneLine: String) -> String {
            zoneLine.split(separator: "\"", omittingEmptySubsequences: false).enumerated()
                .filter { $0.offset % 2 == 1 }.map(\.element).joined()
        }

        @Test func theRecipeMovesAnOpenDKIMServerToDkimMilterWithItsKeysWhereTheyAre() throws {
            let deb = try DebianPackages.build().first
            let root = try DebianRoot()
            defer { root.remove() }
            try root.aptInstall(["opendkim", "opendkim-tools", "postfix"],
                                debconf: "postfix postfix/main_mailer_type select Local only\n"
                                    + "postfix postfix/mailname string mx.example.com\n")
            // OpenDKIM as a Debian admin sets it up.
            try root.sh("""
                opendkim-genkey -D /etc/dkimkeys -d example.com -s mail
                chown opendkim:opendkim /etc/dkimkeys/mail.private
                printf 'Domain example.com\\nSelector mail\\nKeyFile /etc/dkimkeys/mail.private\\n' \\
                    >> /etc/opendkim.conf
                postconf -e 'smtpd_milters = unix:/opendkim/opendkim.sock' \\
                    'non_smtpd_milters = unix:/opendkim/opendkim.sock'
                """)
            let record = Self.txtValue(try #require(root.read("/etc/dkimkeys/mail.txt")))
            let keyBefore = try #require(root.read("/etc/dkimkeys/mail.private"))
            try root.copy(deb, to: "/root/" + (deb as NSString).lastPathComponent)
            // The recipe runs without a network (nothing in it may reach DNS): its apt-get finds the
            // package's dependencies already there.
            let depends = try DebianPackages.field(deb, "Depends").split(separator: ",")
                .compactMap { $0.split(separator: " ").first.map(String.init) }
            try root.aptInstall(depends)
            try root.sh("""
                printf '#!/bin/sh\\necho "$*" >> /root/systemctl.log\\n' > /usr/local/sbin/systemctl
                chmod 0755 /usr/local/sbin/systemctl
                """)
            let run = try root.run(["/bin/sh", "-exc", "cd /root\n" + Self.recipe()], timeout: 900)
            #expect(run.stderr.contains("/etc/opendkim.conf: OK") || run.stdoutText.contains("/etc/opendkim.conf: OK"),
                    "the check of opendkim.conf passes: \(run.stdoutText)\(run.stderr)")
            #expect(root.read("/root/systemctl.log")
                    == "disable --now opendkim\nenable --now dkim-milter\nreload postfix\n")
            let mainCf = try root.run(["postconf", "-h", "smtpd_milters", "non_smtpd_milters"]).stdoutText
            #expect(mainCf == "unix:/dkim-milter/dkim-milter.sock\nunix:/dkim-milter/dkim-milter.sock\n")
            // The key is where it was, unchanged, now the new user's.
            #expect(root.read("/etc/dkimkeys/mail.private") == keyBefore)
            let user = try #require(root.user("dkim-milter"))
            #expect(root.stat("/etc/dkimkeys/mail.private").map { $0.st_uid == user.uid && $0.st_mode & 0o777 == 0o600 }
                    == true)
            // What `systemctl enable --now dkim-milter` starts, on the socket main.cf now names.
            let service = try InstalledService(in: root)
            defer { service.stop() }
            let socket = service.socket("/var/spool/postfix/dkim-milter/dkim-milter.sock")
            let signed = try SigningCheck.sign(socket: socket)
            #expect(try SigningCheck.dkimpy(signed, name: "mail._domainkey.example.com", record: record) == "1 pass")
        }
    }
}
