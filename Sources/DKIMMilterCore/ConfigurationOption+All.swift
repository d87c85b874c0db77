import DKIM
import DKIMKeyCheck

extension ConfigurationOption {
    /// Every option of the configuration file, in the order the documentation lists them.
    public static let all: [ConfigurationOption] = [
        ConfigurationOption("Mode", "s to sign our users' mail, v to verify all other mail, sv (default) for both") {
            c, v in
            let m = v.text.lowercased()
            guard !m.isEmpty, m.allSatisfy({ $0 == "s" || $0 == "v" }) else {
                throw ConfigurationError("\"\(v.text)\" is not s, v or sv")
            }
            c.signs = m.contains("s")
            c.verifies = m.contains("v")
        },
        ConfigurationOption("Socket", "where libmilter listens: local:/path, inet:PORT@HOST, inet6:PORT@HOST "
                            + "(default \(MilterConfiguration.defaultSocket); TCP lets any local user have mail "
                            + "signed), or auto: \(MilterConfiguration.chrootedPostfixSocket) when master.cf runs "
                            + "smtpd or cleanup chrooted, else the default") { c, v in
            try MilterSocketAddress.validate(v.text)
            c.socket = v.text
        },
        ConfigurationOption("Domain", "domains signed with Selector and KeyFile (inline list or file)") { c, v in
            c.domains = try v.list().map { $0.lowercased() }
            if let problem = c.domains.lazy.compactMap({ SigningKey.domainProblem($0) }).first {
                throw ConfigurationError(problem + (v.isFile ? " (in \(try v.path()))" : ""))
            }
        },
        ConfigurationOption("Selector", "the s= of KeyFile") { c, v in
            if let problem = SigningKey.selectorProblem(v.text) { throw ConfigurationError(problem) }
            c.selector = v.text
        },
        ConfigurationOption("KeyFile", "the private key for Domain and Selector") { c, v in c.keyFile = try v.path() },
        ConfigurationOption("KeyTable", "OpenDKIM's key table: a file of NAME DOMAIN:SELECTOR:KEYFILE lines, or a "
                            + "PostgreSQL table (dsn:pgsql://… or pgsql:…), looked up as mail needs it") { c, v in
            c.keyTable = MilterConfiguration.isDatabase(v.text) ? v.text : try v.path()
        },
        ConfigurationOption("SigningTable", "OpenDKIM's signing table: address or domain to key name; "
                            + "refile: for patterns; or a PostgreSQL table") {
            c, v in
            c.signingTableIsPattern = v.text.hasPrefix("refile:")
            c.signingTable = MilterConfiguration.isDatabase(v.text) ? v.text : try v.path()
        },
        ConfigurationOption("KeysDirectory", "with no tables: keys as DIR/DOMAIN/SELECTOR.pem (default Keys)") { c, v in
            c.keysDirectory = try v.path()
        },
        ConfigurationOption("InternalHosts", "clients whose mail is signed without authentication "
                            + "(default 127.0.0.1, ::1)") {
            c, v in c.internalHosts = try NetworkList(parsing: v.list())
        },
        ConfigurationOption("ExternalIgnoreList", "outside hosts that may send as our domains without a warning") {
            c, v in
            c.externalIgnoreList = try NetworkList(parsing: v.list())
        },
        ConfigurationOption("MTA", "{daemon_name} values whose mail is ours (Postfix milter_macro_daemon_name)") {
            c, v in
            c.signingDaemonNames = try v.list()
        },
        ConfigurationOption("Canonicalization", "c= of new signatures (default relaxed/relaxed)") { c, v in
            guard let pair = CanonicalizationPair(tagValue: v.text.lowercased()) else {
                throw ConfigurationError("\"\(v.text)\" is not simple or relaxed, or a pair such as relaxed/simple")
            }
            c.canonicalization = pair
        },
        ConfigurationOption("SignHeaders", "the fields to sign (default: RFC 6376 §5.4.1's, those present)") { c, v in
            c.signHeaders = try v.list().map { $0.lowercased() }
        },
        ConfigurationOption("OversignHeaders", "fields signed once more than present "
                            + "(default From, Subject, Date, …)") {
            c, v in c.oversignHeaders = try v.list().map { $0.lowercased() }
        },
        ConfigurationOption("Diagnostics", "copy the signed fields into z= of new signatures, so that dkimkey verify "
                            + "--explain names a field changed on the way (default no)") { c, v in
            c.diagnostics = try v.bool()
        },
        ConfigurationOption("SignatureAlgorithm", "sign only with rsa-sha256 or only with ed25519-sha256 keys") {
            c, v in
            guard let a = SignatureAlgorithm(rawValue: v.text.lowercased()) else {
                throw ConfigurationError(
                    "\"\(v.text)\" is not rsa-sha256 or ed25519-sha256 (rsa-sha1 is forbidden by RFC 8301)")
            }
            c.signatureAlgorithm = a
        },
        ConfigurationOption("MinimumKeyBits", "RSA keys smaller than this neither sign nor verify (default 1024)") {
            c, v in
            c.minimumKeyBits = try v.int(1024...16384)
        },
        ConfigurationOption("AuthservID", "the authserv-id of our Authentication-Results (default: the host name)") {
            c, v in
            c.authservID = v.text == "HOSTNAME" ? nil : v.text
        },
        ConfigurationOption("AlwaysAddARHeader", "add dkim=none to unsigned mail (default yes)") { c, v in
            c.alwaysAddARHeader = try v.bool()
        },
        ConfigurationOption("MaximumSignaturesToVerify", "signatures checked per message; the rest neutral "
                            + "(default 5)") {
            c, v in c.maximumSignaturesToVerify = try v.int(1...1000)
        },
        ConfigurationOption("On-BadSignature", "the reply when no signature passed and one failed (default accept)") {
            c, v in c.onBadSignature = try v.action()
        },
        ConfigurationOption("On-DNSError", "the reply when a key could not be fetched (default accept)") { c, v in
            c.onDNSError = try v.action()
        },
        ConfigurationOption("On-KeyNotFound", "the reply when a signature's key does not exist (default accept)") {
            c, v in
            c.onKeyNotFound = try v.action()
        },
        ConfigurationOption("On-NoSignature", "the reply for unsigned mail (default accept)") { c, v in
            c.onNoSignature = try v.action()
        },
        ConfigurationOption("On-InternalError", "the reply when signing failed (default tempfail)") { c, v in
            c.onInternalError = try v.action()
        },
        ConfigurationOption("On-SignatureError", "the reply when signatures are malformed (default accept)") { c, v in
            c.onSignatureError = try v.action()
        },
        ConfigurationOption("On-KeyStoreError", "the reply when the key store (a database) cannot answer in time "
                            + "(default tempfail: deferred, signed later)") { c, v in
            c.onKeyStoreError = try v.action()
        },
        ConfigurationOption("KeyCacheTTL", "how long an author's keys from a database are kept (default 5m)") { c, v in
            guard let s = DurationText.seconds(v.text) else {
                throw ConfigurationError("\"\(v.text)\" is not a duration")
            }
            c.keyCacheTTL = s
        },
        ConfigurationOption("KeyCacheNegativeTTL", "how long an author without keys is remembered (default 1m)") {
            c, v in
            guard let s = DurationText.seconds(v.text) else {
                throw ConfigurationError("\"\(v.text)\" is not a duration")
            }
            c.keyCacheNegativeTTL = s
        },
        ConfigurationOption("KeyCacheSize", "authors kept in the key cache at most (default 100000)") { c, v in
            c.keyCacheSize = try v.int(1...10_000_000)
        },
        ConfigurationOption("KeyStoreTimeout", "seconds an uncached key lookup may take (default 2)") { c, v in
            guard let s = DurationText.seconds(v.text), s > 0 else {
                throw ConfigurationError("\"\(v.text)\" is not a duration")
            }
            c.keyStoreTimeout = s
        },
        ConfigurationOption("On-Default", "sets every On- option above except On-InternalError") { c, v in
            let a = try v.action()
            c.onBadSignature = a; c.onDNSError = a; c.onKeyNotFound = a; c.onNoSignature = a; c.onSignatureError = a
        },
        ConfigurationOption("TestPublicKeys", "a records file (NAME RECORD lines) used instead of DNS") { c, v in
            c.testPublicKeys = try v.path()
        },
        ConfigurationOption("Nameservers", "DNS servers asked in turn "
                            + "(IP, IP:PORT, [IPv6]:PORT; default /etc/resolv.conf)") {
            c, v in c.nameservers = try v.list()
        },
        ConfigurationOption("DNSTimeout", "seconds per DNS try, two tries (default 5)") { c, v in
            c.dnsTimeout = try v.int(1...300)
        },
        ConfigurationOption("DNSDeadline", "seconds a message waits for its keys from the end of its header; "
                            + "then temperror (default 10)") { c, v in
            c.dnsDeadline = Double(try v.int(1...250))
        },
        ConfigurationOption("UserID", "user (or user:group) to run as after opening the socket") { c, v in
            c.userID = v.text
        },
        ConfigurationOption("UMask", "octal mask for the socket (default: socket 0660, group postfix)") { c, v in
            guard let m = Int(v.text, radix: 8), (0...0o777).contains(m) else {
                throw ConfigurationError("\"\(v.text)\" is not an octal mask such as 007")
            }
            c.umask = m
        },
        ConfigurationOption("PidFile", "file to write the process id to") { c, v in c.pidFile = try v.path() },
        ConfigurationOption("Syslog", "log to syslog's mail facility instead of standard error") { c, v in
            c.syslog = try v.bool()
        },
        ConfigurationOption("SyslogSuccess", "log a line for every message, not only for failures (default yes)") {
            c, v in
            c.syslogSuccess = try v.bool()
        },
        ConfigurationOption("LogFormat", "text (one readable line per message, default) "
                            + "or json (one object per line)") {
            c, v in
            guard ["text", "json"].contains(v.text.lowercased()) else {
                throw ConfigurationError("\"\(v.text)\" is not text or json")
            }
            c.logFormat = v.text.lowercased()
        },
        ConfigurationOption("LogLevel", "the least important lines logged: "
                            + "debug, info (default), notice, warning, error") {
            c, v in
            guard ["debug", "info", "notice", "warning", "error"].contains(v.text.lowercased()) else {
                throw ConfigurationError("\"\(v.text)\" is not debug, info, notice, warning or error")
            }
            c.logLevel = v.text.lowercased()
        },
        ConfigurationOption("MetricsListen", "serve Prometheus metrics at http://HOST:PORT/metrics (off by default; "
                            + "a port alone means 127.0.0.1)") { c, v in
            guard !v.text.isEmpty else { throw ConfigurationError("needs HOST:PORT such as 127.0.0.1:9811") }
            c.metricsListen = v.text
        },
        ConfigurationOption("RequireSafeKeys", "refuse key files others can read or replace (default yes)") { c, v in
            c.requireSafeKeys = try v.bool()
        },
        ConfigurationOption("KeyCheckInterval", "how often every signing key's DNS record is checked: 3600 (seconds), "
                            + "30m, 1h (default 1h; 0 never)") { c, v in
            guard let seconds = DurationText.seconds(v.text) else {
                throw ConfigurationError("\"\(v.text)\" is not a duration such as 3600, 30m, 1h or 0")
            }
            c.keyCheckInterval = seconds
        },
        ConfigurationOption("UnpublishedKeys", "sign (default) or skip when no key of a domain and algorithm is proven "
                            + "published in DNS") { c, v in
            switch v.text.lowercased() {
            case "sign": c.signsWithUnpublishedKeys = true
            case "skip": c.signsWithUnpublishedKeys = false
            default: throw ConfigurationError("\"\(v.text)\" is not sign or skip")
            }
        },
        ConfigurationOption("SubDomains", "sign for subdomains of a domain that has a key") { c, v in
            c.subDomains = try v.bool()
        },
        ConfigurationOption("MultipleSignatures", "with a SigningTable: sign with every matching entry") { c, v in
            c.multipleSignatures = try v.bool()
        },
        ConfigurationOption(ignored: "LogWhy",
                            why: "every message's log line already gives its decision and the reason"),
        ConfigurationOption(ignored: "AutoRestart", why: "run under systemd (Restart=on-failure) instead"),
        ConfigurationOption(ignored: "AutoRestartRate", why: "run under systemd (Restart=on-failure) instead"),
        ConfigurationOption(ignored: "AutoRestartCount", why: "run under systemd (Restart=on-failure) instead"),
        ConfigurationOption(ignored: "Background", why: "dkim-milter always runs in the foreground (under systemd)"),
        ConfigurationOption(ignored: "TrustAnchorFile",
                            why: "DNSSEC is not validated; keys come from Nameservers or /etc/resolv.conf's servers"),
        ConfigurationOption(ignored: "SyslogFacility", why: "dkim-milter logs to the mail facility"),
        ConfigurationOption(ignored: "LogResults", why: "the one line per message already gives every result"),
        ConfigurationOption(ignored: "SoftwareHeader", why: "no software header is added"),
        ConfigurationOption(ignored: "X-Header", why: "no software header is added"),
        ConfigurationOption(ignored: "DNSConnect", why: "truncated DNS answers are asked again over TCP by themselves"),
        ConfigurationOption(ignored: "RemoveOldSignatures", why: "existing signatures are kept"),
        ConfigurationOption(ignored: "SendReports", why: "failure reports are not sent"),
        ConfigurationOption(ignored: "ReportAddress", why: "failure reports are not sent"),
        ConfigurationOption(ignored: "Statistics", why: "statistics are not written to a file"),
        ConfigurationOption(ignored: "BaseDirectory",
                            why: "use absolute paths (relative ones are read from the file's directory)"),
        ConfigurationOption(ignored: "QueryCache",
                            why: "a key cache is always on (answers kept for their TTL, at most 10,000 and 8 MiB)"),
        ConfigurationOption(ignored: "ADSPAction", why: "ADSP is historic (RFC 6376 obsoleted it)"),
        ConfigurationOption(ignored: "ADSPPolicy", why: "ADSP is historic (RFC 6376 obsoleted it)"),
        ConfigurationOption(ignored: "FixCRLF", why: "Postfix hands every line over with CRLF; nothing to fix"),
        ConfigurationOption(ignored: "On-Security", why: "no security policy check exists to act on"),
    ]
}
