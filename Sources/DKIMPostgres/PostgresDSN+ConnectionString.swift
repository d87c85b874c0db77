internal import CLibPQ
import DKIMMilterCore

/// The connection-string form, for what OpenDKIM's DSN cannot say:
///
///     pgsql:KEYWORD=VALUE [KEYWORD=VALUE …]
///
/// written as libpq's keyword/value connection strings are ("Each parameter setting is in the form
/// keyword = value. Spaces around the equal sign are optional. To write an empty value, or a value
/// containing spaces, surround it with single quotes, for example keyword = 'a value'. Single
/// quotes and backslashes within a value must be escaped with a backslash", PostgreSQL 15
/// §34.1.1.1), with these keywords of ours beside libpq's (host, hostaddr, port, dbname, user,
/// sslmode, sslrootcert, connect_timeout, …, checked against the libpq in use):
///
/// - `table=`, `keycol=`, `datacol=` (required) and `filter=`, as in OpenDKIM's DSN;
/// - `passwordfile=PATH`: the password is the file's first line. The file must be a regular file
///   that no one but its owner may read or write (mode 0600 or 0400); otherwise it is refused,
///   naming the path and the chmod that fixes it. It is read when the configuration is loaded
///   (before the milter gives up root for UserID).
/// - `passfile=PATH`, libpq's own (lines `host:port:database:user:password`), passed to libpq,
///   with the same mode check first (libpq itself only warns on standard error and ignores it).
/// - `password=` is refused: a password stays out of the configuration file.
///
/// Example: `pgsql:host=/run/postgresql dbname=keys user=dkim table=dkim keycol=id
/// datacol=domain_name,selector,private_key_path`, or over TCP with TLS:
/// `pgsql:host=db.example.com port=5432 dbname=keys user=dkim sslmode=verify-full
/// passwordfile=/etc/dkim-milter/pg.pass table=keys keycol=name datacol=domain,selector,key`.
extension PostgresDSN {
    static func parseConnectionString(_ text: String) throws(DatasetError) -> PostgresDSN {
        let pairs = try keywordValuePairs(String(text.dropFirst("pgsql:".count)))
        let known = libpqKeywords
        var parameters: [String: String] = [:]
        var table: String?, keyColumn: String?, dataColumns: String?, filter: String?
        var password: PostgresPassword?
        for (keyword, value) in pairs {
            switch keyword {
            case "table": table = value
            case "keycol": keyColumn = value
            case "datacol": dataColumns = value
            case "filter": filter = value
            case "passwordfile": password = try PasswordFile.read(value)
            case "password":
                throw DatasetError("pgsql: password= is not accepted in the configuration; put the password in "
                    + "a file of mode 0600 and name it with passwordfile=PATH", isTemporary: false)
            case "passfile":
                try PasswordFile.checkMode(value)
                parameters[keyword] = value
            default:
                guard known.contains(keyword) else {
                    throw DatasetError("pgsql: unknown keyword \"\(keyword)\" (ours: table, keycol, datacol, filter, "
                        + "passwordfile; the others are libpq's connection parameters)", isTemporary: false)
                }
                parameters[keyword] = value
            }
        }
        guard let table, !table.isEmpty else { throw DatasetError("pgsql: no table=", isTemporary: false) }
        guard let keyColumn, !keyColumn.isEmpty else { throw DatasetError("pgsql: no keycol=", isTemporary: false) }
        guard let dataColumns, !dataColumns.isEmpty else {
            throw DatasetError("pgsql: no datacol=", isTemporary: false)
        }
        return try PostgresDSN(syntax: .connectionString,
                               connection: PostgresConnectionInfo(parameters: parameters, password: password),
                               table: table, keyColumn: keyColumn, dataColumns: dataColumns, filter: filter)
    }

    /// Splits `keyword = value` settings as libpq's conninfo_parse does.
    static func keywordValuePairs(_ text: String) throws(DatasetError) -> [(String, String)] {
        var chars = Array(text)[...]
        var pairs: [(String, String)] = []
        func skipSpaces() { while let c = chars.first, c.isWhitespace { chars.removeFirst() } }
        while true {
            skipSpaces()
            guard !chars.isEmpty else { break }
            var keyword = ""
            while let c = chars.first, !c.isWhitespace, c != "=" { keyword.append(chars.removeFirst()) }
            skipSpaces()
            guard chars.popFirst() == "=" else {
                throw DatasetError("pgsql: \"\(keyword)\" has no \"=\" (keyword=value, separated by spaces)",
                                   isTemporary: false)
            }
            skipSpaces()
            var value = ""
            if chars.first == "'" {
                chars.removeFirst()
                var closed = false
                while let c = chars.popFirst() {
                    if c == "\\", let next = chars.popFirst() { value.append(next); continue }
                    if c == "'" { closed = true; break }
                    value.append(c)
                }
                guard closed else {
                    throw DatasetError("pgsql: the quoted value of \(keyword) is not closed with '", isTemporary: false)
                }
            } else {
                while let c = chars.first, !c.isWhitespace {
                    chars.removeFirst()
                    if c == "\\", let next = chars.popFirst() { value.append(next) } else { value.append(c) }
                }
            }
            pairs.append((keyword.lowercased(), value))
        }
        return pairs
    }

    /// The connection keywords the libpq in use knows (PQconndefaults).
    static var libpqKeywords: Set<String> {
        guard let options = PQconndefaults() else { return [] }
        defer { PQconninfoFree(options) }
        var names: Set<String> = []
        var option = options
        while let keyword = option.pointee.keyword {
            names.insert(String(cString: keyword))
            option += 1
        }
        return names
    }
}
