import DKIMMilterCore
import Dispatch

/// What `dkim-milter --check-config` asks of a PostgreSQL dataset: whether a lookup would work,
/// and the rows, for the caller to validate (keys that parse, key files that exist).
extension PostgresDataset {
    /// Connects and checks that the table (or view) and every column exist and that the user may
    /// read them, with the lookup itself.
    /// - Returns: remarks that are not errors ("no index on the key column").
    /// - Throws: `DatasetError` saying in one line what is wrong: cannot connect (refused,
    ///   unreachable, timed out), login refused (naming where the password came from, never the
    ///   password), database missing, table missing, a column missing (naming it and the columns
    ///   that exist), no permission.
    public func check(deadline: DispatchTime) throws(DatasetError) -> [String] {
        do {
            return try pool.withConnection(deadline: deadline) { connection throws(PostgresFailure) in
                try check(on: connection, deadline: deadline)
            }
        } catch {
            throw error.datasetError
        }
    }

    /// Up to `limit` rows (all of them for nil), in no particular order.
    public func rows(limit: Int?, deadline: DispatchTime) throws(DatasetError) -> [PostgresRow] {
        do {
            return try pool.withConnection(deadline: deadline) { connection throws(PostgresFailure) in
                let sql = try statement(limit == nil ? .all : .sample, on: connection)
                let rows = try connection.execute(sql, limit.map { [String(max(0, $0))] } ?? [], deadline: deadline)
                return rows.map { row in
                    PostgresRow(key: row.first.flatMap { $0 } ?? "", values: row.dropFirst().map { $0 ?? "" })
                }
            }
        } catch {
            throw error.datasetError
        }
    }

    private func check(on connection: PostgresConnection, deadline: DispatchTime) throws(PostgresFailure) -> [String] {
        let at = "PostgreSQL at \(dsn.connection.server), database \(dsn.connection.database)"
        let regclass = try connection.quoted(dsn.table)
        let columns = try connection.execute("""
            SELECT c.relkind::text, a.attname::text FROM pg_catalog.pg_class c
            LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            WHERE c.oid = pg_catalog.to_regclass($1) ORDER BY a.attnum
            """, [regclass], deadline: deadline)
        guard let kind = columns.first?[0] else {
            throw PostgresFailure(kind: .tableMissing, message: "\(at): there is no table or view \(dsn.table)"
                + (dsn.table.parts.count == 1 ? " (in the schemas of the search_path)" : ""))
        }
        let names = columns.compactMap { $0[1] }
        let missing = ([dsn.keyColumn] + dsn.dataColumns).filter { !names.contains($0.last) }
        if !missing.isEmpty {
            let list = missing.map(\.description).joined(separator: ", ")
            let existing = names.map { PostgresName(parts: [$0]).description }.joined(separator: ", ")
            throw PostgresFailure(kind: .columnMissing, message: "\(at): \(kind == "v" ? "view" : "table") "
                + "\(dsn.table) has no column\(missing.count > 1 ? "s" : "") \(list) (its columns: \(existing))")
        }
        do {
            _ = try connection.execute(try statement(.lookup, on: connection), ["dkim-milter --check-config"],
                                       deadline: deadline)
        } catch where error.kind == .invalidKey {
            // An integer key column: the probe cannot match, and that is all.
        }
        var notes: [String] = []
        if ["r", "p", "m"].contains(kind) {
            let indexed = try connection.execute("""
                SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a
                ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                WHERE i.indrelid = pg_catalog.to_regclass($1) AND a.attname = $2)::text
                """, [regclass, dsn.keyColumn.last], deadline: deadline)
            if indexed.first?.first == "false" {
                notes.append("\(at): no index begins with \(dsn.table)'s key column \(dsn.keyColumn), so every "
                    + "lookup reads the whole table; make one: CREATE INDEX ON \(dsn.table) (\(dsn.keyColumn))")
            }
        }
        return notes
    }
}
