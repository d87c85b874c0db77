import DKIM
import DKIMMilterCore
import DKIMDNS
import DKIMOpenSSL
import Dispatch
import Foundation

/// Builds the running policy from a configuration: loads the keys, picks the resolver.
public enum MilterSetup {
    /// - Parameters:
    ///   - warnings: receives a line for each setting accepted but not applied.
    ///   - metrics: told of key cache hits and misses and of DNS queries.
    public static func policy(from c: MilterConfiguration, warnings: inout [String], metrics: MilterMetrics? = nil,
                              now: @escaping @Sendable () -> Int = { Int(Date().timeIntervalSince1970) })
        throws(ConfigurationError) -> MilterPolicy {
        // A KeyTable or SigningTable in a database: looked up per author, nothing loaded at start.
        let lazyKeys = c.usesDatabase ? try DatabaseKeys.store(c) : nil
        var emptyConfiguration = c
        emptyConfiguration.keyTable = nil
        emptyConfiguration.signingTable = nil
        emptyConfiguration.keysDirectory = "/nonexistent"
        let keys = try KeyStore.load(lazyKeys == nil ? c : emptyConfiguration, loader: OpenSSLCryptoProvider(),
                                     warnings: &warnings)
        let resolver: any TXTResolver
        var keyRecordResolver: (any TXTResolver)?
        if let file = c.testPublicKeys {
            guard let text = TextFile.read(file) else {
                throw ConfigurationError("TestPublicKeys: cannot read \(file)")
            }
            do {
                resolver = try StaticTXTResolver(parsingRecordsFile: text)
            } catch {
                throw ConfigurationError("TestPublicKeys \(file): \(error.reason)")
            }
        } else {
            do {
                // One event-driven client and one cache for all connections: keys are asked for
                // once per TTL, not per message, and no lookup holds a thread.
                var dns = DNSClient.Configuration.system()
                if !c.nameservers.isEmpty {
                    var servers: [DNSNameserver] = []
                    for n in c.nameservers { servers.append(try DNSNameserver(n)) }
                    dns.nameservers = servers
                }
                dns.timeout = Double(max(1, c.dnsTimeout))
                dns.tries = 2
                let client = try DNSClient(configuration: dns)
                keyRecordResolver = client
                resolver = CachingTXTResolver(upstream: client, observer: { event in
                    switch event {
                    case .hit: metrics?.recordKeyCacheLookup(hit: true)
                    case .miss: metrics?.recordKeyCacheLookup(hit: false)
                    case .answered(let result, let seconds):
                        metrics?.recordDNSQuery(outcome: MilterMetrics.dnsOutcome(result), seconds: seconds)
                    }
                })
            } catch let error as DKIMError {
                throw ConfigurationError("Nameservers: \(error.reason)")
            } catch {
                throw ConfigurationError("Nameservers: \(error)")
            }
        }
        if c.signs && keys.allKeys.isEmpty && lazyKeys == nil {
            warnings.append("no signing keys found (\(c.keyTable ?? c.keyFile ?? c.keysDirectory)): verifying only; "
                + "make one with: dkimkey generate SELECTOR --domain DOMAIN --keys-dir \(c.keysDirectory)")
        }
        return MilterPolicy(configuration: c, keys: keys, lazyKeys: lazyKeys, resolver: resolver,
                            keyRecordResolver: keyRecordResolver,
                            crypto: OpenSSLCryptoProvider(),
                            authservID: c.authservID ?? hostName(), now: now)
    }

    /// Every key's record looked up once, as the published-key guard does (for --check-config).
    public static func checkedKeys(_ policy: MilterPolicy) -> KeyStore {
        let deadline = DispatchTime.now() + Double(max(1, policy.configuration.dnsTimeout)) * 2
        return PublishedKeyGuard.check(policy.keys, previous: nil, resolver: policy.keyRecordResolver,
                                       crypto: policy.crypto, deadline: deadline).store
    }

    /// `--check-config` of database tables: one line per table and per bad row; `ok` when none failed.
    public static func checkDatabase(_ c: MilterConfiguration, all: Bool) -> (lines: [String], ok: Bool) {
        let lines = DatabaseKeys.check(c, all: all)
        let ok = lines.allSatisfy { $0.contains(": OK, ") && !$0.contains(" bad") || $0.contains(": note: ") }
        return (lines, ok)
    }

    /// This host's name, the default authserv-id.
    public static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        let name = String(cString: buffer)
        return name.isEmpty ? "localhost" : name
    }

    /// The lines to add to Postfix's main.cf for a socket, each milter path as the service that
    /// uses it sees it (smtpd for `smtpd_milters`, cleanup for `non_smtpd_milters`; see `PostfixChroot`).
    public static func postfixLines(for socket: String, chroot: PostfixChroot = .none) -> [String] {
        var smtpd = socket
        var cleanup = socket
        let lower = socket.lowercased()
        if lower.hasPrefix("inet:") || lower.hasPrefix("inet6:") {
            let rest = socket.split(separator: ":", maxSplits: 1)[1]
            let parts = rest.split(separator: "@", maxSplits: 1).map(String.init)
            let host = parts.count > 1 ? parts[1] : "127.0.0.1"
            smtpd = "inet:\(host):\(parts[0])"
            cleanup = smtpd
        } else if let path = MilterSocketDirectory.unixPath(of: socket) {
            smtpd = "unix:" + (chroot.path(path, chrooted: chroot.smtpd) ?? path)
            cleanup = "unix:" + (chroot.path(path, chrooted: chroot.cleanup) ?? path)
        }
        return ["smtpd_milters = \(smtpd)", "non_smtpd_milters = \(cleanup)", "milter_default_action = tempfail"]
    }

    /// For a unix socket outside Postfix's queue directory: why a chrooted smtpd or cleanup cannot
    /// reach it and the fix (`isProblem`) when master.cf chroots them, else the same as a note.
    public static func postfixChrootAdvice(for socket: String,
                                           chroot: PostfixChroot) -> (text: String, isProblem: Bool)? {
        let queue = PostfixChroot.queueDirectory
        guard let path = MilterSocketDirectory.unixPath(of: socket), !path.hasPrefix(queue + "/") else { return nil }
        let fix = "start dkim-milter with --socket local:\(queue)/dkim-milter/dkim-milter.sock (Socket in a "
            + "configuration file) and write unix:/dkim-milter/dkim-milter.sock in smtpd_milters and "
            + "non_smtpd_milters: a chrooted Postfix daemon resolves that path inside \(queue)"
        let blind = [("smtpd", chroot.smtpd), ("cleanup", chroot.cleanup)].filter(\.1).map(\.0)
        if blind.isEmpty {
            return ("if Postfix's smtpd or cleanup run chrooted (master.cf chroot column y, Debian's default), "
                + "they cannot reach \(path): then \(fix)", false)
        }
        return ("Postfix's \(blind.joined(separator: " and ")) run chrooted in \(queue) (master.cf chroot column "
            + "y) and cannot reach \(path). Fix: \(fix); or set their chroot column in master.cf to n", true)
    }
}
