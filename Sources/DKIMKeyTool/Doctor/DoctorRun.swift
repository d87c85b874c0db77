import DKIM
import DKIMKeyCheck
import DKIMOpenSSL
import DKIMPolicy
import Foundation

/// `dkimkey doctor`: finds the domain's keys in the key store, judges each published record with
/// `dkimkey check`, reads the relay, and hands everything to `Doctor`.
public struct DoctorRun {
    public var domain: String
    public var keysDirectory: String
    /// Selectors named on the command line (keys at KEYS-DIR/DOMAIN/SELECTOR.pem, which may be missing).
    public var selectors: [String]
    public var relays: [RelayHost]
    public var relaySource: String
    public var resolver: any DNSResolver
    /// The DNS server in words, for messages.
    public var server: String
    /// Seconds since 1970, to tell the keys' age.
    public var now: Double

    public init(domain: String, keysDirectory: String, selectors: [String], relays: [RelayHost], relaySource: String,
                resolver: any DNSResolver, server: String, now: Double) {
        self.domain = KeyCheck.normalized(domain)
        self.keysDirectory = keysDirectory
        self.selectors = selectors
        self.relays = relays
        self.relaySource = relaySource
        self.resolver = resolver
        self.server = server
        self.now = now
    }

    public func run() throws(ToolError) -> DoctorReport {
        guard DomainName.isValid(domain), domain.utf8.allSatisfy({ $0 < 0x80 }) else {
            throw ToolError("the domain \"\(Printable.escaped(domain))\" is not a valid domain name such as "
                + "example.com (write an internationalized name in its xn-- form)")
        }
        for s in selectors { try KeyGeneration.validateNames(selector: s, domain: domain) }
        var keys: [DKIMKeyFacts] = []
        var extra: [DoctorFinding] = []
        let found = storedKeys()
        let all = selectors.map { (selector: $0, domain: domain, created: Int?.none) }
            + found.filter { key in !selectors.contains { $0 == key.selector && key.domain == domain } }
        if all.count > Doctor.Budgets.keys {
            extra.append(DoctorFinding(.dkim, "keys", .warn,
                                       "\(all.count) keys found; the first \(Doctor.Budgets.keys) were checked"))
        }
        for key in all.prefix(Doctor.Budgets.keys) {
            keys.append(facts(selector: key.selector, domain: key.domain, created: key.created))
        }
        var report = Doctor(domain: domain, keys: keys, relays: relays, relaySource: relaySource,
                            resolver: resolver).run()
        report.findings = extra + report.findings
        return report
    }

    /// `KEYS-DIR/D/SELECTOR.pem` for the domain and each parent domain (a key of a parent
    /// aligns under relaxed alignment), sorted by selector; keys that `dkimkey rotate` retired or
    /// revoked (`keys.state`) are left out, since they no longer sign.
    func storedKeys() -> [(selector: String, domain: String, created: Int?)] {
        var out: [(String, String, Int?)] = []
        for d in [domain] + Doctor.parents(of: domain) {
            let folder = keysDirectory + "/" + d
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { continue }
            let states = try? KeyStateFile.read(directory: folder, domain: d)
            for name in names.sorted() where name.hasSuffix(".pem") {
                let selector = String(name.dropLast(4))
                let entry = states?[selector]
                if let entry, !entry.state.maySign { continue }
                if (try? KeyGeneration.validateNames(selector: selector, domain: d)) != nil {
                    out.append((selector, d, entry?.created))
                }
            }
        }
        return out
    }

    /// One key: `dkimkey check` on its record (three queries at most), its type, size and age (from
    /// `keys.state` when `dkimkey rotate` made it, else from the file's modification time).
    func facts(selector: String, domain d: String, created: Int? = nil) -> DKIMKeyFacts {
        let path = "\(keysDirectory)/\(d)/\(selector).pem"
        let dns = QueryBudget(resolver, limit: Doctor.Budgets.perKey)
        var privateKey: PrivateKey?
        var checks: [DKIMKeyFacts.Check] = []
        var published = false
        if FileManager.default.fileExists(atPath: path) {
            do {
                privateKey = try KeyFile.load(path)
            } catch {
                checks.append(.init("key-file", .fail, error.message))
            }
        }
        if checks.isEmpty {
            do {
                let report = try KeyCheck.run(selector: selector, domain: d, keyPath: nil, keysDirectory: keysDirectory,
                                              resolver: dns.txtResolver, server: server)
                published = report.passed
                checks += report.checks.map { .init($0.check, Self.status($0.status), $0.message) }
            } catch {
                checks.append(.init("key-file", .fail, error.message))
            }
        }
        var age: Int?
        if let created {
            age = max(0, Int((now - Double(created)) / 86_400))
        } else if let date = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date {
            age = max(0, Int((now - date.timeIntervalSince1970) / 86_400))
        }
        let record = privateKey.map { "v=DKIM1; k=\($0.keyType.rawValue); p=" + Base64.encode($0.publicKeyData) }
        return DKIMKeyFacts(selector: selector, domain: d, keyPath: path, keyType: privateKey?.keyType,
                            bits: privateKey?.bitCount, published: published, checks: checks, correctRecord: record,
                            ageDays: age)
    }

    static func status(_ s: KeyCheckReport.Status) -> DoctorFinding.Status {
        switch s {
        case .ok: .ok
        case .warn: .warn
        case .fail: .fail
        }
    }
}
