import DKIM
import Dispatch
import Foundation

/// Keys looked up when a message needs them, from datasets (a KeyTable and a SigningTable in a
/// database): nothing is walked at start, whatever the number of domains, and a domain signs the
/// moment its rows exist (within the cache's TTL, or at once with LISTEN/NOTIFY).
///
/// One cache for all connections, bounded in entries: an author's keys are kept for the positive
/// TTL, "no key" for the negative TTL; concurrent lookups of one author wait for one query; a
/// private key is parsed once per (key name, key data). When the database cannot answer, cached
/// keys keep signing past their TTL, and an uncached author fails at the deadline (the caller
/// applies On-KeyStoreError, tempfail by default: the message is retried, never sent unsigned).
public final class LazyKeyStore: @unchecked Sendable {
    public struct Settings: Sendable {
        public var positiveTTL: Double = 300
        public var negativeTTL: Double = 60
        public var maximumEntries = 100_000
        /// Seconds an uncached lookup may take (KeyStoreTimeout).
        public var timeout: Double = 2
        public var subDomains = false
        public var multipleSignatures = false
        public var minimumKeyBits = 1024
        public init() {}
    }

    /// A row that cannot be used, named by its key (logged by the caller, once per row and TTL).
    public typealias BadRowObserver = @Sendable (_ row: String, _ problem: String) -> Void

    private struct Entry {
        var keys: [SigningKey]
        var expires: Double
        /// The row keys this answer was read from (for NOTIFY invalidation).
        var rows: Set<String>
    }

    private let signingTable: (any Dataset)?
    private let keyTable: any Dataset
    private let loader: any PrivateKeyLoader
    private let safety: KeyFileSafety?
    public let settings: Settings
    private let clock: @Sendable () -> Double
    private let badRow: BadRowObserver?
    private let condition = NSCondition()
    private var entries: [String: Entry] = [:]
    private var inFlight = Set<String>()
    private var parsed: [String: any DKIMSigningKey] = [:]
    private var reported: [String: Double] = [:]

    public init(signingTable: (any Dataset)?, keyTable: any Dataset, loader: any PrivateKeyLoader,
                safety: KeyFileSafety?, settings: Settings = Settings(),
                clock: @escaping @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 },
                badRow: BadRowObserver? = nil) {
        self.signingTable = signingTable
        self.keyTable = keyTable
        self.loader = loader
        self.safety = safety
        self.settings = settings
        self.clock = clock
        self.badRow = badRow
    }

    /// Entries cached now.
    public var cachedAuthors: Int {
        condition.lock(); defer { condition.unlock() }
        return entries.count
    }

    /// The keys for an author, from the cache or the datasets.
    /// - Throws: a temporary `DatasetError` when the datasets cannot answer in time and nothing
    ///   (not even a stale entry) is cached.
    public func keys(forAuthor address: String) throws(DatasetError) -> [SigningKey] {
        let author = address.lowercased()
        let deadline = DispatchTime.now() + settings.timeout
        condition.lock()
        while true {
            if let e = entries[author], e.expires > clock() {
                condition.unlock()
                return e.keys
            }
            if !inFlight.contains(author) { break }
            // Another connection asks for this author now: wait for its answer, until the deadline.
            let now = DispatchTime.now()
            guard now < deadline else {
                let stale = entries[author]
                condition.unlock()
                if let stale { return stale.keys }
                throw DatasetError("the key store did not answer within \(settings.timeout) s", isTemporary: true)
            }
            let left = Double(deadline.uptimeNanoseconds - now.uptimeNanoseconds) / 1e9
            _ = condition.wait(until: Date().addingTimeInterval(left))
        }
        inFlight.insert(author)
        condition.unlock()
        let result: Result<(keys: [SigningKey], rows: Set<String>), DatasetError>
        do {
            result = .success(try lookUp(author, deadline: deadline))
        } catch {
            result = .failure(error)
        }
        condition.lock()
        defer { condition.broadcast(); condition.unlock() }
        inFlight.remove(author)
        switch result {
        case .success(let found):
            if entries.count >= settings.maximumEntries { evict() }
            entries[author] = Entry(keys: found.keys, expires: clock() + (found.keys.isEmpty ? settings.negativeTTL
                                                                                          : settings.positiveTTL),
                                    rows: found.rows)
            return found.keys
        case .failure(let error):
            // The database is down or slow: what was known keeps signing.
            if let stale = entries[author] { return stale.keys }
            throw error
        }
    }

    /// The cached keys of an author when fresh, without a query.
    public func knownSigningKeys(forAuthor address: String) -> [SigningKey]? {
        condition.lock(); defer { condition.unlock() }
        guard let e = entries[address.lowercased()], e.expires > clock() else { return nil }
        return e.keys
    }

    /// A row changed (NOTIFY, with the row's key): every cached answer read from it is dropped.
    public func invalidate(row key: String) {
        let key = key.lowercased()
        condition.lock()
        entries = entries.filter { !$0.value.rows.contains(key) && $0.key != key }
        parsed = parsed.filter { !$0.key.hasPrefix(key + "|") }
        condition.unlock()
    }

    /// Drops every cached answer (a reconnect after an outage, when notifications may be lost).
    public func invalidateAll() {
        condition.lock()
        entries = [:]
        condition.unlock()
    }

    // MARK: - Lookup

    /// OpenDKIM's order: the SigningTable by the whole address, then the domain (then its parents
    /// with SubDomains); each key name found in the KeyTable (DOMAIN, SELECTOR, KEY). Without a
    /// SigningTable the KeyTable is keyed by domain.
    private func lookUp(_ author: String, deadline: DispatchTime) throws(DatasetError)
        -> (keys: [SigningKey], rows: Set<String>) {
        let domain = author.split(separator: "@").last.map(String.init) ?? author
        var candidates = signingTable == nil ? [domain] : [author, domain]
        var parent = domain
        while settings.subDomains, let dot = parent.firstIndex(of: ".") {
            parent = String(parent[parent.index(after: dot)...])
            if parent.contains(".") { candidates.append(parent) }
        }
        var rows = Set(candidates)
        var names: [String] = []
        if let signingTable {
            for c in candidates {
                guard let row = try signingTable.get(c, deadline: deadline), let value = row.first else { continue }
                names += value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                if !settings.multipleSignatures { break }
            }
        } else {
            for c in candidates where try keyTable.get(c, deadline: deadline) != nil {
                names = [c]
                break
            }
        }
        var keys: [SigningKey] = []
        for name in names {
            rows.insert(name)
            guard let row = try keyTable.get(name, deadline: deadline) else {
                report(name, "the SigningTable names the key \"\(name)\", which is not in the KeyTable "
                    + "(\(keyTable.description))")
                continue
            }
            if let key = makeKey(name: name, row: row, authorDomain: domain) { keys.append(key) }
        }
        let store = KeyStore.byDomain(keys)
        return (keys.isEmpty ? [] : store.chosen(keys), rows)
    }

    /// A KeyTable row as a key: DOMAIN, SELECTOR and KEY (a file path, or the PEM itself).
    private func makeKey(name: String, row: [String], authorDomain: String) -> SigningKey? {
        guard row.count >= 3 else {
            report(name, "the KeyTable row has \(row.count) column(s); DOMAIN, SELECTOR and KEY are needed")
            return nil
        }
        let domain = row[0].lowercased() == "%" ? authorDomain : row[0].lowercased()
        if let problem = SigningKey.domainProblem(domain) {
            report(name, "the DOMAIN column: \(problem)")
            return nil
        }
        if let problem = SigningKey.selectorProblem(row[1]) {
            report(name, "the SELECTOR column: \(problem)")
            return nil
        }
        let data = row[2].trimmingCharacters(in: .whitespacesAndNewlines)
        let cacheKey = name + "|" + data
        condition.lock()
        var key = parsed[cacheKey]
        condition.unlock()
        if key == nil {
            do {
                if data.hasPrefix("-----BEGIN") {
                    key = try loader.signingKey(pemOrSeed: data)
                } else {
                    key = try KeyStore.loadKey(data, loader: loader, safety: safety,
                                               minimumBits: settings.minimumKeyBits, context: "KeyTable row \(name)")
                }
            } catch let error as DKIMError {
                report(name, "the KEY column holds no usable private key: \(error.reason)")
                return nil
            } catch {
                report(name, "\(error)")
                return nil
            }
            condition.lock()
            parsed[cacheKey] = key
            condition.unlock()
        }
        guard let key else { return nil }
        if key.keyType == .rsa && key.bitCount < settings.minimumKeyBits {
            report(name, "the key has \(key.bitCount) bits; at least \(settings.minimumKeyBits) are required")
            return nil
        }
        if !Self.isRelated(domain, authorDomain) {
            // OpenDKIM signs such a row too (a third-party signature is legitimate), so we sign; but
            // in a panel's tables it is far more often a row pointing at another customer's key.
            report(name, "signs mail from \(authorDomain) with d=\(domain), which is neither that domain nor a "
                + "parent or subdomain of it: DMARC will not count the signature as aligned")
        }
        return SigningKey(domain: domain, selector: row[1], key: key,
                          path: data.hasPrefix("-----BEGIN") ? "(KeyTable row \(name))" : data)
    }

    /// Whether a signature by `signer` can align with an author in `author` (RFC 7489 §3.1.1 relaxed
    /// alignment: one organizational domain; approximated without a public suffix list as the same
    /// domain, a parent or a subdomain).
    static func isRelated(_ signer: String, _ author: String) -> Bool {
        signer == author || author.hasSuffix("." + signer) || signer.hasSuffix("." + author)
    }

    private func report(_ row: String, _ problem: String) {
        condition.lock()
        let now = clock()
        let fresh = (reported[row] ?? -Double.infinity) + settings.positiveTTL <= now
        if fresh { reported[row] = now }
        condition.unlock()
        if fresh { badRow?(row, problem) }
    }

    /// Makes room: expired entries first, then the oldest tenth.
    private func evict() {
        let now = clock()
        entries = entries.filter { $0.value.expires > now }
        guard entries.count >= settings.maximumEntries else { return }
        for (k, _) in entries.sorted(by: { $0.value.expires < $1.value.expires }).prefix(settings.maximumEntries / 10) {
            entries[k] = nil
        }
    }
}
