/// Whether the Postfix services that talk to milters run chrooted, as master.cf says.
///
/// `smtpd_milters` are used by smtpd(8), `non_smtpd_milters` by cleanup(8). A chrooted daemon
/// resolves every path, a milter's `unix:` path too, inside the queue directory
/// (`/var/spool/postfix`): `unix:/dkim-milter/dkim-milter.sock` is then
/// `/var/spool/postfix/dkim-milter/dkim-milter.sock`, and nothing outside it can be reached.
/// Debian's master.cf chroots both (column 5, `y`); a `-` there means no since Postfix 3.0.
public struct PostfixChroot: Sendable, Equatable {
    public var smtpd: Bool
    public var cleanup: Bool

    /// Debian's (and upstream's) default `queue_directory`, the chrooted daemons' root.
    public static let queueDirectory = "/var/spool/postfix"
    public static let none = PostfixChroot(smtpd: false, cleanup: false)

    public init(smtpd: Bool, cleanup: Bool) {
        self.smtpd = smtpd
        self.cleanup = cleanup
    }

    /// Reads master.cf's service lines (`service type private unpriv chroot wakeup maxproc command`):
    /// a service is chrooted when a line running its command says `y` in the chroot column.
    public init(masterCf text: String) {
        var smtpd = false
        var cleanup = false
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.hasPrefix(" ")
            && !line.hasPrefix("\t") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 8, fields[4] == "y" else { continue }
            if fields[7] == "smtpd" { smtpd = true }
            if fields[7] == "cleanup" { cleanup = true }
        }
        self.init(smtpd: smtpd, cleanup: cleanup)
    }

    /// What `/etc/postfix/master.cf` says; no chroot when there is no Postfix.
    public static func installed(masterCf path: String = "/etc/postfix/master.cf") -> PostfixChroot {
        guard let text = TextFile.read(path) else { return .none }
        return PostfixChroot(masterCf: text)
    }

    /// A socket path as a service sees it: unchanged when not chrooted, relative to the queue
    /// directory when chrooted; nil when a chrooted service cannot reach it at all.
    public func path(_ path: String, chrooted: Bool) -> String? {
        guard chrooted else { return path }
        let root = Self.queueDirectory + "/"
        return path.hasPrefix(root) ? "/" + path.dropFirst(root.count) : nil
    }
}
