import DKIMMilterCore
import Dispatch

/// An OpenDKIM dataset (a KeyTable, a SigningTable) in a PostgreSQL table or view, looked up one
/// key at a time: `SELECT datacol… FROM table WHERE keycol = $1 [AND (filter)] LIMIT 2`, the key
/// sent as a parameter, never in the SQL text (OpenDKIM pastes it in after odbx_escape; README.SQL
/// shows the queries it makes). The key column holds keys exactly as OpenDKIM stores them (an
/// address, a domain, `*@domain`, a key name); the order in which a SigningTable is asked is the
/// key store's.
///
/// Lookups are as OpenDKIM's: the first row found answers (with more than one row for a key
/// OpenDKIM "only copy[s] out the first hit"; we tell `onBadRow` too), a NULL value is an empty
/// string. A key that cannot be a value of the key column's type (a name asked of an integer
/// column) finds no row, where OpenDKIM's query fails. Comparison is the column's (its type and
/// collation); an index on the key column is the administrator's to make (`CREATE INDEX ON table
/// (keycol)`): without one every lookup reads the whole table, and `check` says so.
public final class PostgresDataset: Dataset, Sendable {
    public let dsn: PostgresDSN
    public let pool: PostgresPool
    private let onBadRow: @Sendable (PostgresBadRow) -> Void

    /// A dataset on `pool`'s database (datasets on one database share a pool: its connections, its
    /// backoff and one outage report).
    /// - Parameter onBadRow: told of each lookup that found more than one row for its key.
    public init(_ dsn: PostgresDSN, pool: PostgresPool,
                onBadRow: @escaping @Sendable (PostgresBadRow) -> Void = { _ in }) {
        precondition(dsn.connection == pool.connection, "a dataset's pool must connect to its database")
        self.dsn = dsn
        self.pool = pool
        self.onBadRow = onBadRow
    }

    /// A dataset with a pool of its own.
    public convenience init(_ dsn: PostgresDSN, poolSize: Int = 4, backoff: PostgresBackoff = PostgresBackoff(),
                            onOutage: @escaping @Sendable (PostgresOutage) -> Void = { _ in },
                            onBadRow: @escaping @Sendable (PostgresBadRow) -> Void = { _ in }) {
        self.init(dsn, pool: PostgresPool(dsn.connection, size: poolSize, backoff: backoff, onOutage: onOutage),
                  onBadRow: onBadRow)
    }

    public var description: String { dsn.description }

    /// The data columns of the row whose key column equals `key`, nil when there is none.
    /// - Throws: `DatasetError`, temporary when the server is down, slow or busy (or the pool is
    ///   backing off after failing to reach it); not temporary for a missing table or column, a
    ///   refused login or grant.
    public func get(_ key: String, deadline: DispatchTime) throws(DatasetError) -> [String]? {
        do {
            return try pool.withConnection(deadline: deadline) { connection throws(PostgresFailure) in
                let sql = try statement(.lookup, on: connection)
                let rows = try connection.execute(sql, [key], deadline: deadline)
                guard let first = rows.first else { return nil }
                if rows.count > 1 { onBadRow(PostgresBadRow(key: key, dsn: dsn)) }
                return first.map { $0 ?? "" }
            }
        } catch {
            if error.kind == .invalidKey { return nil }
            throw error.datasetError
        }
    }

    // MARK: SQL

    enum Statement: String {
        case lookup, sample, all
    }

    /// The statement's SQL for `connection`, made once per connection (names quoted by it).
    func statement(_ kind: Statement, on connection: PostgresConnection) throws(PostgresFailure) -> String {
        let cacheKey = "\(kind.rawValue)|\(dsn.table.parts)|\(dsn.keyColumn.parts)|\(dsn.dataColumns.map(\.parts))|"
            + (dsn.filter ?? "")
        if let sql = connection.statements[cacheKey] { return sql }
        let table = try connection.quoted(dsn.table)
        let key = try connection.quoted(dsn.keyColumn)
        var data: [String] = []
        for column in dsn.dataColumns { data.append(try connection.quoted(column)) }
        let filter = dsn.filter.map { "(\($0))" }
        let sql: String
        switch kind {
        case .lookup:
            sql = "SELECT \(data.joined(separator: ", ")) FROM \(table) WHERE \(key) = $1"
                + (filter.map { " AND \($0)" } ?? "") + " LIMIT 2"
        case .sample, .all:
            sql = "SELECT \(([key] + data).joined(separator: ", ")) FROM \(table)"
                + (filter.map { " WHERE \($0)" } ?? "") + (kind == .sample ? " LIMIT $1" : "")
        }
        connection.statements[cacheKey] = sql
        return sql
    }
}

/// More than one row for a key: the first one found answered.
public struct PostgresBadRow: Sendable, Equatable, CustomStringConvertible {
    public let key: String
    public let table: String

    init(key: String, dsn: PostgresDSN) {
        self.key = key
        self.table = "\(dsn.table) in \(dsn.connection.server), database \(dsn.connection.database)"
    }

    public var description: String {
        "more than one row of \(table) has the key \"\(key)\"; the first one found is used"
    }
}

/// A row read whole (`PostgresDataset.rows`): its key and its data columns, NULL as "".
public struct PostgresRow: Sendable, Equatable {
    public var key: String
    public var values: [String]

    public init(key: String, values: [String]) {
        self.key = key
        self.values = values
    }
}
