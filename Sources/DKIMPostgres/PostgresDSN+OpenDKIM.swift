import DKIMMilterCore

/// OpenDKIM's Data Store Name for PostgreSQL, read as OpenDKIM 2.11 reads it (opendkim(8), "DATA
/// SETS" d; opendkim-db.c, dkimf_db_open):
///
///     dsn:pgsql://[USER[:PASSWORD]@][PORT+]HOST/DATABASE/table=TABLE?keycol=KEY?datacol=COL1[,COL2…][?filter=SQL]
///
/// - The part after `//` is cut at each of `:` `@` `+` `/` (and `?`, `=` not followed by two hex
///   digits, which are errors there): text before `:` is the user, before `@` the user (none yet)
///   or the password, before `+` the port, before the first `/` the host, before the second the
///   database. The host is required; the port comes before it (`5432+db.example.com`), not after.
/// - After the database, `?`-separated `name=value` pairs (names in any case): `table`, `keycol`,
///   `datacol` (required) and `filter` (optional). Empty pairs are skipped. A name OpenDKIM does
///   not know is refused here (OpenDKIM ignores it, so a misspelt `keycolumn=` would only show as
///   a missing keycol).
/// - Escapes: "No value within the DSN may contain any of the six punctuation characters (":",
///   "/", "@", "+", "?" and "=") … encode them in quoted-printable style (e.g., "=20" will be
///   translated into a single space character)" (opendkim(8)). OpenDKIM 2.11 as Debian 12 ships it
///   does not do that for the user, password, host and database: it passes `=XX` through as it is
///   (tested: a password `pa=3Ass` is sent as those seven characters, `ab=de` works) and decodes only
///   `filter`. We decode the escapes of those six characters and of the space (`=3A` `=2F` `=40`
///   `=2B` `=3F` `=3D` `=20`, either case) in every value, which OpenDKIM's parser cannot take at
///   all, and leave any other `=XX` as OpenDKIM does; so every DSN OpenDKIM accepts means the same
///   here, except a value that really contains one of those seven escapes. In `filter` every `=XX`
///   is decoded, as OpenDKIM does (its lower-case hex digits decode wrongly; ours do not).
/// - The host may be a unix socket directory written with escapes:
///   `dsn:pgsql://dkim@5432+=2Frun=2Fpostgresql/keys/…` is the socket /run/postgresql/.s.PGSQL.5432.
/// - The backend must be `pgsql`; OpenDBX's others (mysql, sqlite3, …) are refused by name.
extension PostgresDSN {
    static func parseOpenDKIM(_ text: String) throws(DatasetError) -> PostgresDSN {
        func fail(_ why: String) -> DatasetError {
            DatasetError("\(why) (OpenDKIM's form: dsn:pgsql://USER:PASSWORD@PORT+HOST/DATABASE/"
                + "table=TABLE?keycol=KEY?datacol=COL1,COL2)", isTemporary: false)
        }
        var bytes = Array(text.utf8)[4...] // after "dsn:"
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { throw fail("no backend in the DSN") }
        let backend = String(decoding: bytes[..<colon], as: UTF8.self)
        guard backend == "pgsql" else {
            throw DatasetError("the DSN's backend is \(backend.isEmpty ? "empty" : backend): dkim-milter reads "
                + "PostgreSQL only (dsn:pgsql://…)", isTemporary: false)
        }
        bytes = bytes[(colon + 1)...]
        guard bytes.starts(with: "//".utf8) else { throw fail("no // after dsn:pgsql:") }
        bytes = bytes.dropFirst(2)

        var user = "", password = "", port = "", host = "", database = ""
        var found = false
        while !found, let p = nextDelimiter(bytes) {
            let segment = decodeDelimiters(bytes[..<p])
            let delimiter = bytes[p]
            bytes = bytes[(p + 1)...]
            switch delimiter {
            case UInt8(ascii: ":"):
                guard user.isEmpty else { throw fail("a second \":\" before \"@\" (escape it in a password as =3A)") }
                user = segment
            case UInt8(ascii: "@"):
                if user.isEmpty { user = segment } else { password = segment }
            case UInt8(ascii: "+"):
                port = segment
            case UInt8(ascii: "/"):
                if host.isEmpty { host = segment } else { database = segment; found = true }
            default:
                let c = Character(Unicode.Scalar(delimiter))
                throw fail("unexpected \"\(c)\" before the table part (escape it as =\(hex(delimiter)))")
            }
        }
        guard found || (host.isEmpty && bytes.isEmpty) else {
            throw fail("the DSN has no /DATABASE/ and table part after the host")
        }
        guard !host.isEmpty else { throw fail("the DSN names no host") }
        guard port.allSatisfy(\.isASCII), port.allSatisfy(\.isNumber), port.count <= 5 else {
            throw fail("the port \(port) is not a number")
        }

        var table: String?, keyColumn: String?, dataColumns: String?, filter: String?
        for pair in bytes.split(separator: UInt8(ascii: "?")) {
            guard let eq = pair.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let name = String(decoding: pair[..<eq], as: UTF8.self).lowercased()
            let raw = pair[(eq + 1)...]
            switch name {
            case "table": table = decodeDelimiters(raw)
            case "keycol": keyColumn = decodeDelimiters(raw)
            case "datacol": dataColumns = decodeDelimiters(raw)
            case "filter": filter = decodeAll(raw)
            default: throw fail("unknown DSN parameter \"\(name)\" (known: table, keycol, datacol, filter)")
            }
        }
        guard let table, !table.isEmpty else { throw fail("the DSN has no table=") }
        guard let keyColumn, !keyColumn.isEmpty else { throw fail("the DSN has no keycol=") }
        guard let dataColumns, !dataColumns.isEmpty else { throw fail("the DSN has no datacol=") }

        var parameters = ["host": host]
        if !port.isEmpty { parameters["port"] = port }
        if !database.isEmpty { parameters["dbname"] = database }
        if !user.isEmpty { parameters["user"] = user }
        let connection = PostgresConnectionInfo(
            parameters: parameters, password: password.isEmpty ? nil : PostgresPassword(password, source: "the DSN"))
        return try PostgresDSN(syntax: .openDKIM, connection: connection, table: table, keyColumn: keyColumn,
                               dataColumns: dataColumns, filter: filter)
    }

    /// The names as written, checked: each a name, not an expression.
    init(syntax: Syntax, connection: PostgresConnectionInfo, table: String, keyColumn: String, dataColumns: String,
         filter: String?) throws(DatasetError) {
        guard let tableName = PostgresName(parsing: table), tableName.parts.count <= 3 else {
            throw DatasetError("table=\(table) is not a table name (schema.table or table)", isTemporary: false)
        }
        guard let key = PostgresName(parsing: keyColumn), key.parts.count == 1 else {
            throw DatasetError("keycol=\(keyColumn) is not a column name", isTemporary: false)
        }
        guard let data = PostgresName.list(parsing: dataColumns), data.allSatisfy({ $0.parts.count == 1 }) else {
            throw DatasetError("datacol=\(dataColumns) is not a list of column names (col1,col2,col3; an expression "
                + "belongs in a view)", isTemporary: false)
        }
        let trimmed = filter?.trimmingSpaces
        self.init(syntax: syntax, connection: connection, table: tableName, keyColumn: key, dataColumns: data,
                  filter: trimmed?.isEmpty == false ? trimmed : nil)
    }

    /// OpenDKIM's dkimf_db_nextpunct: the next `:` `/` `@` `+` `?`, or `=` not followed by two
    /// hex digits.
    private static func nextDelimiter(_ bytes: ArraySlice<UInt8>) -> Int? {
        var i = bytes.startIndex
        while i < bytes.endIndex {
            switch bytes[i] {
            case UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "@"), UInt8(ascii: "+"), UInt8(ascii: "?"):
                return i
            case UInt8(ascii: "="):
                let hexFollows = i + 2 < bytes.endIndex
                    && hexValue(bytes[i + 1]) != nil && hexValue(bytes[i + 2]) != nil
                if !hexFollows { return i }
                i += 3
                continue
            default:
                break
            }
            i += 1
        }
        return nil
    }

    /// The delimiters' and the space's escapes decoded, any other `=XX` kept.
    private static func decodeDelimiters(_ bytes: ArraySlice<UInt8>) -> String {
        decode(bytes) { [0x3A, 0x2F, 0x40, 0x2B, 0x3F, 0x3D, 0x20].contains($0) }
    }

    /// Every `=XX` decoded (OpenDKIM's filter).
    private static func decodeAll(_ bytes: ArraySlice<UInt8>) -> String { decode(bytes) { _ in true } }

    private static func decode(_ bytes: ArraySlice<UInt8>, when accepted: (UInt8) -> Bool) -> String {
        var out: [UInt8] = []
        var i = bytes.startIndex
        while i < bytes.endIndex {
            if bytes[i] == UInt8(ascii: "="), i + 2 < bytes.endIndex,
               let high = hexValue(bytes[i + 1]), let low = hexValue(bytes[i + 2]), accepted(high << 4 | low) {
                out.append(high << 4 | low)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func hex(_ c: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(c >> 4)], digits[Int(c & 15)]])
    }
}
