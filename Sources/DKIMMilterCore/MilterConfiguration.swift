import DKIM

/// What the milter does with a message whose verification ended a certain way
/// (OpenDKIM's `On-…` options).
public enum ResultAction: String, Sendable, CaseIterable {
    case accept, discard, reject, tempfail, quarantine

    var reply: MilterReply {
        switch self {
        case .accept: .accept
        case .discard: .discard
        case .reject: .reject
        case .tempfail: .tempfail
        case .quarantine: .quarantine(reason: "DKIM verification")
        }
    }
}

/// The milter's settings, with safe defaults. Read from a file by `MilterConfiguration(file:)`.
public struct MilterConfiguration: Sendable {
    /// Sign mail of our own users (Mode s).
    public var signs = true
    /// Verify everything not signed (Mode v).
    public var verifies = true
    /// Where libmilter listens: `local:/path`, `unix:/path`, `inet:PORT@HOST`, `inet6:PORT@HOST`.
    public var socket = MilterConfiguration.defaultSocket
    /// Domains signed with `selector` and `keyFile` (the simple single-key setup).
    public var domains: [String] = []
    public var selector: String?
    public var keyFile: String?
    /// OpenDKIM KeyTable and SigningTable files (`refile:` for wildcard patterns).
    public var keyTable: String?
    public var signingTable: String?
    public var signingTableIsPattern = false
    /// With no tables and no KeyFile: keys found as `keysDirectory/<domain>/<selector>.pem`.
    public var keysDirectory = "Keys"
    /// Clients whose mail is signed without authentication.
    public var internalHosts = NetworkList.loopback
    /// Hosts allowed to send as our domains without being signed or warned about.
    public var externalIgnoreList = try! NetworkList(parsing: [])
    /// `{daemon_name}` macro values whose mail is ours (Postfix's `milter_macro_daemon_name`).
    public var signingDaemonNames: [String] = []
    public var canonicalization = CanonicalizationPair.relaxedRelaxed
    /// The fields to sign; nil = the `dkimkey` default set.
    public var signHeaders: [String]?
    /// Fields listed once more than present; nil = the `dkimkey` default set.
    public var oversignHeaders: [String]?
    /// Copy the signed fields into `z=` (RFC 6376 §3.5; OpenDKIM's Diagnostics). Off by default.
    public var diagnostics = false
    /// Restricts signing to one algorithm; nil = every key of the domain.
    public var signatureAlgorithm: SignatureAlgorithm?
    public var minimumKeyBits = 1024
    /// The authserv-id of our Authentication-Results (default: the host name).
    public var authservID: String?
    /// Add `dkim=none` to unsigned mail.
    public var alwaysAddARHeader = true
    public var maximumSignaturesToVerify = 5
    public var onBadSignature = ResultAction.accept
    public var onDNSError = ResultAction.accept
    public var onKeyNotFound = ResultAction.accept
    public var onNoSignature = ResultAction.accept
    public var onInternalError = ResultAction.tempfail
    /// When the key store (a database) cannot say in time which keys sign: tempfail, so Postfix
    /// defers the message and it is signed later, never sent unsigned.
    public var onKeyStoreError = ResultAction.tempfail
    /// The key store's cache (datasets): seconds an author's keys, and an author's "no key", are kept.
    public var keyCacheTTL: Double = 300
    public var keyCacheNegativeTTL: Double = 60
    public var keyCacheSize = 100_000
    /// Seconds an uncached key lookup may take before On-KeyStoreError applies.
    public var keyStoreTimeout: Double = 2
    public var onSignatureError = ResultAction.accept
    /// A records file (NAME RECORD lines) used instead of DNS.
    public var testPublicKeys: String?
    public var nameservers: [String] = []
    public var dnsTimeout = 5
    /// The longest a message waits for its key lookups, in seconds, counted from the end of its
    /// header section: what has no answer by then is a temperror. Well under Postfix's
    /// milter_content_timeout (300 s), so one message's dead DNS never holds the MTA.
    public var dnsDeadline: Double = 10
    public var userID: String?
    public var umask: Int?
    public var pidFile: String?
    public var syslog = false
    public var syslogSuccess = true
    /// `text` (one readable line per message) or `json` (one object per line, README "Log fields").
    public var logFormat = "text"
    /// The least important lines logged: debug, info, notice, warning, error.
    public var logLevel = "info"
    /// Where `GET /metrics` is served (`HOST:PORT`); nil: no metrics endpoint.
    public var metricsListen: String?
    /// Refuse key files that others can read or write.
    public var requireSafeKeys = true
    /// UnpublishedKeys sign (default) or skip: when every key of a domain and algorithm is proven
    /// unpublished, sign anyway (the MTA may see split-horizon DNS) or not at all.
    public var signsWithUnpublishedKeys = true
    /// Seconds between checks that every signing key's record is published (0: never).
    public var keyCheckInterval: Double = 3600
    /// Sign for subdomains of a domain that has a key.
    public var subDomains = false
    /// With a SigningTable: sign with every matching entry, not only the first.
    public var multipleSignatures = false

    public init() {}

    /// Whether a KeyTable or SigningTable value names a database table (`dsn:…`, `pgsql:…`).
    public static func isDatabase(_ value: String) -> Bool {
        value.hasPrefix("dsn:") || value.hasPrefix("pgsql:")
    }

    /// Whether keys are looked up per author in datasets rather than loaded at start.
    public var usesDatabase: Bool {
        keyTable.map(Self.isDatabase) == true || signingTable.map(Self.isDatabase) == true
    }

    /// The socket used when none is configured: a unix socket in a directory only root, the
    /// milter's user and group postfix can enter (see `MilterSocketDirectory`). The milter protocol
    /// has no authentication, so a TCP socket, even on 127.0.0.1, lets every local user have any
    /// message signed with our keys (issue 18); `inet:` stays available for those who choose it.
    public static let defaultSocket = "local:/run/dkim-milter/dkim-milter.sock"

    /// The default socket inside Postfix's queue directory, where a chrooted smtpd and cleanup
    /// (Debian's master.cf) can reach it, as `unix:/dkim-milter/dkim-milter.sock`.
    public static let chrootedPostfixSocket = "local:\(PostfixChroot.queueDirectory)/dkim-milter/dkim-milter.sock"

    /// `Socket auto`: the socket of a run without configuration (`zeroConfigurationSocket`), chosen
    /// when the configuration is loaded. The packaged configuration says so, which makes a stock
    /// Debian Postfix (chrooted) and one that is not both work without an edit.
    public static let automaticSocket = "auto"

    /// The socket of a run without configuration and without --socket: `defaultSocket`, or
    /// `chrootedPostfixSocket` when master.cf runs smtpd or cleanup chrooted, so that the lines
    /// printed for main.cf work on a stock Debian Postfix.
    public static func zeroConfigurationSocket(chroot: PostfixChroot) -> String {
        chroot.smtpd || chroot.cleanup ? chrootedPostfixSocket : defaultSocket
    }
}
