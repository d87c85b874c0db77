import DKIM
import DKIMMilterCore
import DKIMOpenSSL
import DKIMPostgres
import Dispatch
import Foundation

/// The key store of a configuration whose KeyTable or SigningTable is a PostgreSQL table: a
/// `LazyKeyStore` over PostgreSQL datasets (and table files for the other table), with one
/// connection pool per database for the life of the process (reloads reuse it), one log line per
/// outage, and LISTEN/NOTIFY dropping cached answers the moment a row changes.
enum DatabaseKeys {
    /// Pools and listeners by database, kept across reloads.
    private static let pools = Locked<[PostgresConnectionInfo: PostgresPool]>([:])
    private static let listeners = Locked<[PostgresConnectionInfo: PostgresListener]>([:])
    /// Where log lines go (the host's log once it runs; standard error before).
    static let log = Locked<(@Sendable (String) -> Void)?>(nil)
    /// The running lazy store, for notifications.
    static let current = Locked<LazyKeyStore?>(nil)

    static func say(_ line: String) {
        if let log = log.withLock({ $0 }) { log(line) } else {
            FileHandle.standardError.write(Data("dkim-milter: \(line)\n".utf8))
        }
    }

    /// The datasets and the lazy store for a configuration.
    static func store(_ c: MilterConfiguration) throws(ConfigurationError) -> LazyKeyStore {
        guard let keyTableText = c.keyTable else {
            throw ConfigurationError("SigningTable \(c.signingTable ?? ""): a database SigningTable needs a KeyTable")
        }
        if c.signingTableIsPattern {
            throw ConfigurationError("SigningTable refile: cannot be combined with a database KeyTable: patterns "
                + "need the whole table; put the rows in the database, or use a KeyTable file")
        }
        let keyTable = try dataset(keyTableText, keyTable: true)
        let signingTable = try c.signingTable.map { (t) throws(ConfigurationError) in try dataset(t, keyTable: false) }
        var settings = LazyKeyStore.Settings()
        settings.positiveTTL = c.keyCacheTTL
        settings.negativeTTL = c.keyCacheNegativeTTL
        settings.maximumEntries = c.keyCacheSize
        settings.timeout = c.keyStoreTimeout
        settings.subDomains = c.subDomains
        settings.multipleSignatures = c.multipleSignatures
        settings.minimumKeyBits = c.minimumKeyBits
        let safety = c.requireSafeKeys ? try KeyFileSafety(userID: c.userID) : nil
        let store = LazyKeyStore(signingTable: signingTable, keyTable: keyTable, loader: OpenSSLCryptoProvider(),
                                 safety: safety, settings: settings,
                                 badRow: { row, problem in
                                     say("key store: row \(row): \(Printable.escaped(problem))")
                                 })
        current.withLock { $0 = store }
        return store
    }

    /// A table: PostgreSQL (`dsn:pgsql://…`, `pgsql:…`) or a file.
    static func dataset(_ text: String, keyTable: Bool) throws(ConfigurationError) -> any Dataset {
        guard PostgresDSN.isPostgres(text) else {
            guard let content = TextFile.read(text) else {
                throw ConfigurationError(
                    "cannot read \(text): check that it exists and that the milter's user can read it")
            }
            return FileDataset(text: content, path: text, keyTable: keyTable)
        }
        let dsn: PostgresDSN
        do {
            dsn = try PostgresDSN(parsing: text)
        } catch {
            throw ConfigurationError("\(keyTable ? "KeyTable" : "SigningTable"): \(error.message)")
        }
        let pool = pools.withLock { pools in
            if let existing = pools[dsn.connection] { return existing }
            let pool = PostgresPool(dsn.connection, onOutage: { outage in say("key store: \(outage)") })
            pools[dsn.connection] = pool
            return pool
        }
        listen(dsn.connection)
        return PostgresDataset(dsn, pool: pool, onBadRow: { row in
            say("key store: \(row.table) has more than one row for \(Printable.escaped(row.key)); the first is used")
        })
    }

    /// NOTIFY dkim_milter (contrib/postgresql/dkim-notify.sql): a changed row's key drops what was
    /// read from it; a resumed listener (notifications may have been missed) drops everything.
    static func listen(_ connection: PostgresConnectionInfo) {
        listeners.withLock { listeners in
            guard listeners[connection] == nil else { return }
            let listener = PostgresListener(connection) { event in
                switch event {
                case .notification(let payload):
                    if payload.isEmpty { current.withLock { $0 }?.invalidateAll() } else {
                        current.withLock { $0 }?.invalidate(row: payload)
                    }
                case .listening(let resumed):
                    if resumed { current.withLock { $0 }?.invalidateAll() }
                case .down(let reason):
                    say("key store: change notifications paused: \(reason)")
                }
            }
            listener.start()
            listeners[connection] = listener
        }
    }

    /// `--check-config` with a database: the connection, the columns, and a sample of the rows
    /// (all of them with `all`), every bad row named by its key. One line per problem.
    static func check(_ c: MilterConfiguration, all: Bool) -> [String] {
        var lines: [String] = []
        for (label, text, isKeyTable) in [("KeyTable", c.keyTable, true), ("SigningTable", c.signingTable, false)] {
            guard let text, PostgresDSN.isPostgres(text) else { continue }
            do {
                let dsn = try PostgresDSN(parsing: text)
                let pool = PostgresPool(dsn.connection, size: 1)
                defer { pool.close() }
                let table = PostgresDataset(dsn, pool: pool)
                let deadline = DispatchTime.now() + 10
                for note in try table.check(deadline: deadline) { lines.append("\(label) \(dsn): note: \(note)") }
                let rows = try table.rows(limit: all ? nil : 100, deadline: DispatchTime.now() + 60)
                var seen = Set<String>()
                var bad = 0
                for row in rows {
                    let key = row.key.lowercased()
                    if !seen.insert(key).inserted { lines.append("\(label) row \(row.key): duplicate key"); bad += 1 }
                    if isKeyTable, let problem = keyRowProblem(row.values, c: c) {
                        lines.append("\(label) row \(Printable.escaped(row.key)): \(problem)")
                        bad += 1
                    }
                }
                lines.append("\(label) \(dsn): OK, \(rows.count) row(s) read"
                    + "\(all ? "" : " (a sample; --all for every row)")"
                    + (bad > 0 ? ", \(bad) bad" : ""))
            } catch {
                lines.append("\(label): \(error.message)")
            }
        }
        return lines
    }

    /// What is wrong with a KeyTable row's DOMAIN, SELECTOR and KEY, or nil.
    static func keyRowProblem(_ row: [String], c: MilterConfiguration) -> String? {
        guard row.count >= 3 else { return "\(row.count) column(s); DOMAIN, SELECTOR and KEY are needed" }
        if row[0] != "%", let p = SigningKey.domainProblem(row[0].lowercased()) { return "DOMAIN: \(p)" }
        if let p = SigningKey.selectorProblem(row[1]) { return "SELECTOR: \(p)" }
        let data = row[2].trimmingCharacters(in: .whitespacesAndNewlines)
        do {
            if data.hasPrefix("-----BEGIN") {
                _ = try OpenSSLCryptoProvider().signingKey(pemOrSeed: data)
            } else {
                let safety = c.requireSafeKeys ? try KeyFileSafety(userID: c.userID) : nil
                _ = try KeyStore.loadKey(data, loader: OpenSSLCryptoProvider(), safety: safety,
                                         minimumBits: c.minimumKeyBits, context: "KEY")
            }
        } catch let error as DKIMError {
            return "KEY: no usable private key: \(error.reason)"
        } catch {
            return "\(error)"
        }
        return nil
    }
}
