import DKIMMilterCore
import DKIMTestSupport
import Foundation
import Glibc
import Testing

/// Issue 16: dkim-milter installs like a Debian service. Every suite here builds on the .deb that
/// contrib/debian/build-deb.sh makes (once per run) and most install it into fresh Debian 12 roots;
/// they run one at a time (each root installs packages from Debian's mirror).
@Suite(.serialized) enum Packaging {}

/// The programs, the configuration and the generated pages as the package holds them.
extension Packaging {
    @Suite struct DebianPackageTests {
        @Test func thePackageHoldsTheProgramsPagesCompletionsUnitAndConfigurationAndNeedsNoSwift() throws {
            let deb = try DebianPackages.build().first
            let listing = try ProcessRunner.run("/usr/bin/dpkg-deb", ["--contents", deb]).stdoutText
            for path in ["./usr/sbin/dkim-milter", "./usr/bin/dkimkey", "./etc/dkim-milter/dkim-milter.conf",
                         "./lib/systemd/system/dkim-milter.service", "./usr/lib/sysusers.d/dkim-milter.conf",
                         "./usr/libexec/dkim-milter/prepare-socket-directories",
                         "./usr/share/man/man8/dkim-milter.8.gz", "./usr/share/man/man5/dkim-milter.conf.5.gz",
                         "./usr/share/man/man1/dkimkey.1.gz", "./usr/share/man/man1/dkimkey-generate.1.gz",
                         "./usr/share/man/man1/dkimkey-sign.1.gz", "./usr/share/man/man1/dkimkey-verify.1.gz",
                         "./usr/share/man/man1/dkimkey-check.1.gz",
                         "./usr/share/bash-completion/completions/dkimkey",
                         "./usr/share/zsh/vendor-completions/_dkimkey",
                         "./usr/share/bash-completion/completions/dkim-milter",
                         "./usr/share/zsh/vendor-completions/_dkim-milter", "./usr/share/doc/dkim-milter/copyright"] {
                #expect(listing.contains(" \(path)\n"), "\(path) is not in the package")
            }
            for program in ["./usr/sbin/dkim-milter", "./usr/bin/dkimkey"] {
                #expect(listing.contains("-rwxr-xr-x root/root") && listing.split(separator: "\n").contains {
                    $0.hasPrefix("-rwxr-xr-x root/root") && $0.hasSuffix(" \(program)")
                }, "\(program): mode 0755 root")
            }
            #expect(try ProcessRunner.run("/usr/bin/dpkg-deb", ["--ctrl-tarfile", deb]).status == 0)
            let extracted = try Fixtures.makeTemporaryDirectory()
            defer { Fixtures.removeTemporaryDirectory(extracted) }
            #expect(try ProcessRunner.run("/usr/bin/dpkg-deb", ["--control", deb, extracted + "/DEBIAN"]).status == 0)
            #expect(try String(contentsOfFile: extracted + "/DEBIAN/conffiles", encoding: .utf8)
                    == "/etc/dkim-milter/dkim-milter.conf\n")
            let depends = try DebianPackages.field(deb, "Depends")
            for library in ["libssl3", "libmilter1.0.1", "libc6"] { #expect(depends.contains(library), "\(depends)") }
            #expect(!depends.lowercased().contains("swift"), "\(depends)")
            #expect(try ProcessRunner.run("/usr/bin/dpkg-deb", ["--extract", deb, extracted]).status == 0)
            for program in ["/usr/sbin/dkim-milter", "/usr/bin/dkimkey"] {
                let needed = try ProcessRunner.run("/usr/bin/readelf", ["-d", extracted + program]).stdoutText
                #expect(needed.contains("(NEEDED)") && !needed.contains("libswift") && !needed.contains("Foundation"),
                        "\(program) loads a Swift library: \(needed)")
            }
            // dkim-milter.conf(5) is the option table, as `dkim-milter --list-options man` prints it.
            let page = try ProcessRunner.run("/bin/sh", ["-c", "zcat \"$0\"",
                                                         extracted + "/usr/share/man/man5/dkim-milter.conf.5.gz"])
            let undated = { (p: String) in p.split(separator: "\n", omittingEmptySubsequences: false).dropFirst() }
            #expect(undated(page.stdoutText) == undated(ConfigurationOption.manual(date: "")))
            let completion = try String(contentsOfFile: extracted + "/usr/share/bash-completion/completions/dkimkey",
                                        encoding: .utf8)
            for sub in ["generate", "sign", "verify", "check"] { #expect(completion.contains(sub)) }
            let bash = extracted + "/usr/share/bash-completion/completions/dkimkey"
            let syntax = try ProcessRunner.run("/bin/bash", ["-n", bash])
            #expect(syntax.status == 0, "\(syntax.stderr)")
        }

        /// lintian finds no error; each warning it gives is one the README lists with its reason.
        @Test func lintianFindsNoErrorAndOnlyTheWarningsTheReadmeJustifies() throws {
            let deb = try DebianPackages.build().first
            let r = try ProcessRunner.run("/usr/bin/lintian", ["--pedantic", deb], timeout: 600)
            let tags = r.stdoutText.split(separator: "\n").filter { $0.hasPrefix("E: ") || $0.hasPrefix("W: ") }
            #expect(!tags.contains { $0.hasPrefix("E: ") }, "\(r.stdoutText)")
            let readme = try String(contentsOfFile: Fixtures.repositoryRoot + "/README.md", encoding: .utf8)
            for warning in tags where warning.hasPrefix("W: ") {
                let tag = warning.split(separator: " ").dropFirst(2).first.map(String.init) ?? ""
                #expect(readme.contains("`\(tag)`"), "lintian warns \(warning), which the README does not justify")
            }
        }
    }
}
