import DKIMMilterCore

/// A table in PostgreSQL read as an OpenDKIM dataset: the database (`connection`), the table,
/// the column holding the keys and the columns whose values a lookup returns, in order.
///
/// Two spellings (grammars in PostgresDSN+OpenDKIM.swift and PostgresDSN+ConnectionString.swift):
///
///     dsn:pgsql://dkim:secret@5432+127.0.0.1/keys/table=dkim?keycol=id?datacol=domain_name,selector,key
///     pgsql:host=/run/postgresql dbname=keys user=dkim passwordfile=/etc/dkim-milter/pg.pass
///           table=dkim keycol=id datacol=domain_name,selector,private_key_path
///
/// (each on one line). The first is OpenDKIM's (opendkim(8), "DATA SETS" d), read as OpenDKIM 2.11 reads it, so a
/// KeyTable or SigningTable line moves over unchanged; the second is libpq's own `keyword=value`
/// syntax plus the table's keywords, for what OpenDKIM's cannot say: a unix socket without
/// escapes, sslmode and the other libpq parameters, a password kept in a file of mode 0600.
public struct PostgresDSN: Sendable, Hashable, CustomStringConvertible {
    public enum Syntax: Sendable, Hashable {
        /// `dsn:pgsql://…`
        case openDKIM
        /// `pgsql:keyword=value …`
        case connectionString
    }

    public let syntax: Syntax
    public let connection: PostgresConnectionInfo
    public let table: PostgresName
    public let keyColumn: PostgresName
    public let dataColumns: [PostgresName]
    /// OpenDKIM's `filter`: an SQL condition of the administrator's added to every lookup as
    /// `AND (filter)` ("The key may also include a "filter" value which will be included in all
    /// generated SQL as an AND clause", opendkim(8)). It is configuration, not data: no value from
    /// a message is ever part of the SQL text.
    public let filter: String?

    init(syntax: Syntax, connection: PostgresConnectionInfo, table: PostgresName, keyColumn: PostgresName,
         dataColumns: [PostgresName], filter: String?) {
        self.syntax = syntax
        self.connection = connection
        self.table = table
        self.keyColumn = keyColumn
        self.dataColumns = dataColumns
        self.filter = filter
    }

    /// Whether `text` names a PostgreSQL dataset in either spelling (the key store's dispatch).
    public static func isPostgres(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.hasPrefix("dsn:pgsql:") || lower.hasPrefix("pgsql:")
    }

    /// Reads either spelling.
    /// - Throws: `DatasetError` (not temporary) saying in one line what is wrong and how it is
    ///   written, never with the password.
    public init(parsing text: String) throws(DatasetError) {
        let lower = text.lowercased()
        if lower.hasPrefix("dsn:") {
            self = try Self.parseOpenDKIM(text)
        } else if lower.hasPrefix("pgsql:") {
            self = try Self.parseConnectionString(text)
        } else {
            throw DatasetError("not a PostgreSQL dataset (dsn:pgsql://… or pgsql:keyword=value …)",
                               isTemporary: false)
        }
    }

    /// "table dkim (key id; values domain_name, selector, private_key_path) in PostgreSQL at …":
    /// never the password.
    public var description: String {
        let values = dataColumns.map(\.description).joined(separator: ", ")
        var text = "table \(table) (key \(keyColumn); values \(values))"
        if let filter { text += " where \(filter)" }
        return text + " in \(connection)"
    }
}
