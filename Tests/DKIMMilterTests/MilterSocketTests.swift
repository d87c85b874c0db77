import DKIMTestSupport
import Foundation
import Glibc
import Testing
@testable import DKIMMilter
@testable import DKIMMilterCore

/// Issue 18, finding 6: the milter protocol has no authentication, so whoever reaches the socket
/// gets mail signed with our keys. The default socket, its directory, and the Postfix lines printed.
@Suite struct MilterSocketTests {
    @Test func theDefaultSocketIsAUnixSocketUnderRun() {
        #expect(MilterConfiguration().socket == "local:/run/dkim-milter/dkim-milter.sock")
        #expect(MilterSocketDirectory.unixPath(of: MilterConfiguration().socket) == "/run/dkim-milter/dkim-milter.sock")
        #expect(MilterSocketDirectory.unixPath(of: "inet:8891@127.0.0.1") == nil)
    }

    /// Debian's master.cf: smtpd and cleanup chrooted (column 5), qmgr not, `-` meaning no.
    static let debianMasterCf = """
        # service type  private unpriv  chroot  wakeup  maxproc command + args
        smtp      inet  n       -       y       -       -       smtpd
        #submission inet n       -       y       -       -       smtpd
        #  -o smtpd_sasl_auth_enable=yes
        pickup    unix  n       -       y       60      1       pickup
        cleanup   unix  n       -       y       -       0       cleanup
        qmgr      unix  n       -       n       300     1       qmgr
        local     unix  -       n       n       -       -       local
        """

    @Test func masterCfTellsWhichMilterClientsAreChrooted() {
        #expect(PostfixChroot(masterCf: Self.debianMasterCf) == PostfixChroot(smtpd: true, cleanup: true))
        let upstream = Self.debianMasterCf.replacingOccurrences(of: "n       -       y", with: "n       -       -")
        #expect(PostfixChroot(masterCf: upstream) == .none)
        let mixed = Self.debianMasterCf.replacingOccurrences(of: "-       y       -       -       smtpd",
                                                             with: "-       n       -       -       smtpd")
        #expect(PostfixChroot(masterCf: mixed) == PostfixChroot(smtpd: false, cleanup: true))
    }

    /// A chrooted daemon resolves the milter's path inside /var/spool/postfix: the printed path drops
    /// that prefix for it, and keeps it for a daemon that is not chrooted.
    @Test func postfixLinesGiveEachServiceThePathItSees() {
        let spool = "local:/var/spool/postfix/dkim-milter/dkim-milter.sock"
        #expect(MilterSetup.postfixLines(for: spool, chroot: PostfixChroot(smtpd: true, cleanup: true)) == [
            "smtpd_milters = unix:/dkim-milter/dkim-milter.sock",
            "non_smtpd_milters = unix:/dkim-milter/dkim-milter.sock",
            "milter_default_action = tempfail"])
        #expect(MilterSetup.postfixLines(for: spool, chroot: PostfixChroot(smtpd: true, cleanup: false)) == [
            "smtpd_milters = unix:/dkim-milter/dkim-milter.sock",
            "non_smtpd_milters = unix:/var/spool/postfix/dkim-milter/dkim-milter.sock",
            "milter_default_action = tempfail"])
        #expect(MilterSetup.postfixLines(for: MilterConfiguration.defaultSocket) == [
            "smtpd_milters = unix:/run/dkim-milter/dkim-milter.sock",
            "non_smtpd_milters = unix:/run/dkim-milter/dkim-milter.sock",
            "milter_default_action = tempfail"])
        #expect(MilterSetup.postfixChrootAdvice(for: spool, chroot: PostfixChroot(smtpd: true, cleanup: true)) == nil)
    }

    /// The default socket is out of reach of a chrooted smtpd: said as a problem with the fix when
    /// master.cf chroots it, as a note otherwise.
    @Test func aSocketOutsideTheQueueDirectoryIsCalledUnreachableForAChrootedPostfix() throws {
        let chrooted = try #require(MilterSetup.postfixChrootAdvice(for: MilterConfiguration.defaultSocket,
                                                                    chroot: PostfixChroot(smtpd: true, cleanup: true)))
        #expect(chrooted.isProblem)
        for words in ["smtpd and cleanup run chrooted", "cannot reach /run/dkim-milter/dkim-milter.sock",
                      "--socket local:/var/spool/postfix/dkim-milter/dkim-milter.sock",
                      "unix:/dkim-milter/dkim-milter.sock"] {
            #expect(chrooted.text.contains(words), "\(chrooted.text)")
        }
        let note = try #require(MilterSetup.postfixChrootAdvice(for: MilterConfiguration.defaultSocket, chroot: .none))
        #expect(!note.isProblem && note.text.contains("unix:/dkim-milter/dkim-milter.sock"), "\(note.text)")
        #expect(MilterSetup.postfixChrootAdvice(for: "inet:8891@127.0.0.1",
                                                chroot: PostfixChroot(smtpd: true, cleanup: true)) == nil)
    }

    /// A missing socket directory is made 0750 (whatever the umask), group postfix where it exists;
    /// one that exists is left alone.
    @Test func aMissingSocketDirectoryIsMadeMode0750OfGroupPostfix() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let old = umask(0o022)
        defer { umask(old) }
        try MilterSocketDirectory.prepare(socketPath: dir + "/run/m.sock", userID: nil)
        var st = stat()
        #expect(stat(dir + "/run", &st) == 0)
        #expect(st.st_mode & 0o7777 == 0o750, "mode \(String(st.st_mode & 0o7777, radix: 8))")
        if let postfix = getgrnam("postfix"), geteuid() == 0 { #expect(st.st_gid == postfix.pointee.gr_gid) }
        chmod(dir + "/run", 0o755)
        try MilterSocketDirectory.prepare(socketPath: dir + "/run/m.sock", userID: nil)
        #expect(stat(dir + "/run", &st) == 0 && st.st_mode & 0o7777 == 0o755)
    }

    @Test func aSocketDirectoryThatCannotBeMadeIsAnErrorNamingThePathAndTheFix() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let error = #expect(throws: ConfigurationError.self) {
            try MilterSocketDirectory.prepare(socketPath: dir + "/no/such/m.sock", userID: nil)
        }
        let text = error.map { "\($0)" } ?? ""
        for words in ["cannot create the socket directory \(dir)/no/such", "start dkim-milter as root",
                      "install -d -m 0750", "--socket local:/path"] {
            #expect(text.contains(words), "\(text)")
        }
    }

    /// `Socket auto` (the packaged configuration): the socket a run without configuration uses,
    /// chosen from master.cf when the file is loaded, at start and at every reload.
    @Test func socketAutoFollowsMasterCfLikeARunWithoutConfiguration() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        try "Socket auto\n".write(toFile: dir + "/c.conf", atomically: true, encoding: .utf8)
        var source = ConfigurationSource(file: dir + "/c.conf")
        var warnings: [String] = []
        source.chroot = PostfixChroot(masterCf: Self.debianMasterCf)
        #expect(try source.load(warnings: &warnings).socket == "local:/var/spool/postfix/dkim-milter/dkim-milter.sock")
        source.chroot = .none
        #expect(try source.load(warnings: &warnings).socket == MilterConfiguration.defaultSocket)
        source.socket = "auto"
        source.chroot = PostfixChroot(smtpd: false, cleanup: true)
        #expect(try source.load(warnings: &warnings).socket == MilterConfiguration.chrootedPostfixSocket)
        #expect(warnings.isEmpty, "\(warnings)")
    }
}
