import ArgumentParser
import DKIMMilter
import DKIMMilterCore
import Metrics
import Foundation

@main
struct DKIMMilterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dkim-milter",
        abstract: "Sign and verify DKIM inside Postfix (a libmilter service).",
        discussion: """
            With no configuration it signs with every key in KEYS-DIR/<domain>/<selector>.pem \
            (mail from internal hosts and authenticated users), verifies everything else, and \
            listens on local:/run/dkim-milter/dkim-milter.sock, or on \
            local:/var/spool/postfix/dkim-milter/dkim-milter.sock when /etc/postfix/master.cf runs smtpd or \
            cleanup chrooted (Debian's default); the directory is made when missing (group postfix, mode \
            0750) and the socket is 0660, so only root, the milter's user and Postfix can connect. It prints \
            the lines to add to main.cf. An existing opendkim.conf works with --config. \
            Reload keys and configuration with SIGUSR1; stop with SIGTERM.
            """)

    @Option(name: [.customLong("config"), .customShort("x")], help: "A configuration file in opendkim.conf syntax.")
    var config: String?

    @Option(help: "Check a configuration file (keys readable and valid, tables consistent), then exit.")
    var checkConfig: String?

    @Flag(help: "With --check-config and a database KeyTable or SigningTable: check every row, not a sample.")
    var all = false

    @Option(help: "The key store used without a configuration file.")
    var keysDir: String = "Keys"

    @Option(help: """
        The socket, overriding the configuration: local:/path, inet:PORT@HOST, inet6:PORT@HOST \
        (a TCP socket lets every local user have mail signed: the milter protocol has no authentication).
        """)
    var socket: String?

    @Option(help: "Take keys from this records file (NAME RECORD lines) instead of DNS.")
    var testRecords: String?

    @Option(help: "Ask this DNS server (IPv4, IP or IP:PORT) instead of /etc/resolv.conf's, overriding Nameservers.")
    var nameserver: String?

    @Option(help: """
        Serve Prometheus metrics at http://HOST:PORT/metrics \
        (overrides MetricsListen; a port alone: 127.0.0.1).
        """)
    var metricsListen: String?

    @Option(help: ArgumentHelp("""
        List every configuration option (honoured or ignored, and why), then exit: as text, as the lists \
        of contrib/MIGRATING.md, or as the manual page dkim-milter.conf(5) (dated by SOURCE_DATE_EPOCH if set).
        """, valueName: "text|markdown|man"))
    var listOptions: String?

    @Flag(name: .customShort("f"),
          help: "Run in the foreground (always the case; accepted for OpenDKIM compatibility).")
    var foreground = false

    static func main() {
        MilterHost.blockSignals()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }

    /// The date of the generated manual page: SOURCE_DATE_EPOCH's (reproducible builds), else today's.
    static func manualDate() -> String {
        let epoch = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"].flatMap(TimeInterval.init)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "MMMM d, yyyy"
        return formatter.string(from: epoch.map { Date(timeIntervalSince1970: $0) } ?? Date())
    }

    /// The configuration file (or none) and the overrides given here, read at start and at reload.
    func source(file: String?) -> ConfigurationSource {
        var source = ConfigurationSource(file: file)
        source.keysDirectory = keysDir
        source.socket = socket
        source.testRecords = testRecords
        source.nameserver = nameserver
        source.metricsListen = metricsListen
        source.chroot = PostfixChroot.installed()
        return source
    }

    func run() throws {
        if let format = listOptions {
            switch format {
            case "text": print(ConfigurationOption.text())
            case "markdown": print(ConfigurationOption.markdown(), terminator: "")
            case "man": print(ConfigurationOption.manual(date: Self.manualDate()), terminator: "")
            default: throw ValidationError("--list-options takes text, markdown or man")
            }
            return
        }
        if let path = checkConfig {
            var warnings: [String] = []
            do {
                let c = try source(file: path).load(warnings: &warnings)
                let policy = try MilterSetup.policy(from: c, warnings: &warnings)
                for w in warnings { FileHandle.standardError.write(Data("dkim-milter: warning: \(w)\n".utf8)) }
                print("\(path): OK — mode \(c.signs ? "s" : "")\(c.verifies ? "v" : ""), socket \(c.socket), "
                    + "\(policy.keys.allKeys.count) signing key(s)")
                if c.usesDatabase {
                    let (lines, ok) = MilterSetup.checkDatabase(c, all: all)
                    for line in lines { print("  " + line) }
                    if !ok { throw ExitCode(1) }
                }
                let checked = MilterSetup.checkedKeys(policy)
                for k in checked.allKeys {
                    let published = k.domain == "%" ? "not checked (% stands for the author's domain)"
                        : (checked.publication[k.recordName] ?? .unknown).rawValue
                    let signs = k.domain == "%" || checked.isUsable(k) ? "" : ", not signing"
                    print("  \(k.domain) s=\(k.selector) \(k.algorithm.rawValue) (\(k.key.bitCount) bits) "
                        + "from \(k.path): \(k.lifecycle.rawValue), \(published)\(signs)")
                }
            } catch let code as ExitCode {
                throw code
            } catch {
                FileHandle.standardError.write(Data("dkim-milter: \(error)\n".utf8))
                throw ExitCode(1)
            }
            return
        }
        var warnings: [String] = []
        let c: MilterConfiguration
        let policy: MilterPolicy
        let metrics: MilterMetrics
        var endpoint: MetricsEndpoint?
        do {
            c = try source(file: config).load(warnings: &warnings)
            if let listen = c.metricsListen {
                let factory = MetricsEndpoint.makeFactory()
                endpoint = try MetricsEndpoint(listen: listen, factory: factory)
                metrics = MilterMetrics(factory: factory, version: MilterVersion.current)
            } else {
                metrics = MilterMetrics(factory: NOOPMetricsHandler.instance, version: MilterVersion.current)
            }
            policy = try MilterSetup.policy(from: c, warnings: &warnings, metrics: metrics)
        } catch {
            FileHandle.standardError.write(Data("dkim-milter: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let log = MilterLog(configuration: c)
        for w in warnings { log.warning(w) }
        if let endpoint {
            log.info("metrics at http://\(endpoint.address)/metrics")
            if !MetricsEndpoint.isLoopback(endpoint.address) {
                log.warning("MetricsListen \(endpoint.address) is not a loopback address: anyone who reaches it sees "
                    + "your mail volume and results; firewall it or use 127.0.0.1")
            }
        }
        let keys = policy.keys.allKeys
        if !keys.isEmpty {
            log.info("signing "
                + keys.map { "\($0.domain) (s=\($0.selector), \($0.algorithm.rawValue))" }.joined(separator: ", "))
        }
        let chroot = PostfixChroot.installed()
        if config == nil {
            log.info("add to Postfix's main.cf:\n    "
                + MilterSetup.postfixLines(for: c.socket, chroot: chroot).joined(separator: "\n    "))
        }
        if let advice = MilterSetup.postfixChrootAdvice(for: c.socket, chroot: chroot),
           advice.isProblem || config == nil {
            if advice.isProblem { log.warning(advice.text) } else { log.info(advice.text) }
        }
        let source = self.source(file: config)
        let host = MilterHost(policy: policy, log: log, metrics: metrics) {
            var w: [String] = []
            return try MilterSetup.policy(from: try source.load(warnings: &w), warnings: &w, metrics: metrics)
        }
        let status = host.run(socket: c.socket, umask: c.umask, userID: c.userID, pidFile: c.pidFile)
        endpoint?.stop()
        if status != 0 { throw ExitCode(status) }
    }
}
