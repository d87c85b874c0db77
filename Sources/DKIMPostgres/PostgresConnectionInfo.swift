/// How to reach and log in to one PostgreSQL database: libpq's connection parameters (host,
/// port, dbname, user, sslmode, …) and the password kept apart, so that datasets on the same
/// database can share one pool (equal values, equal server) and nothing printed shows it.
///
/// `host` is a name, an address, or a directory holding the server's unix socket (a value
/// starting with "/", as libpq reads it: "The host name … If this begins with a slash, it
/// specifies Unix-domain communication rather than TCP/IP communication; the value is the name of
/// the directory in which the socket file is stored", PostgreSQL 15 §34.1.2). A host name is
/// resolved by libpq with getaddrinfo() before the connection starts, outside our deadline: use
/// an address, a socket or /etc/hosts where a slow resolver could hold a lookup.
public struct PostgresConnectionInfo: Sendable, Hashable, CustomStringConvertible {
    /// libpq connection keywords and their values, never the password.
    public internal(set) var parameters: [String: String]
    /// The password (inline in an OpenDKIM DSN, or read from `passwordfile`), nil for none.
    public internal(set) var password: PostgresPassword?

    init(parameters: [String: String], password: PostgresPassword?) {
        var parameters = parameters
        // Keys and values travel as UTF-8 whatever the database's encoding (the server converts).
        if parameters["client_encoding"] == nil { parameters["client_encoding"] = "UTF8" }
        if parameters["application_name"] == nil { parameters["application_name"] = "dkim-milter" }
        self.parameters = parameters
        self.password = password
    }

    /// Where the server is: "127.0.0.1 port 5432", "socket /run/postgresql/.s.PGSQL.5432".
    public var server: String {
        let port = parameters["port"] ?? "5432"
        guard let host = parameters["host"] ?? parameters["hostaddr"], !host.isEmpty else {
            return "the default socket (port \(port))"
        }
        if host.hasPrefix("/") { return "socket \(host)/.s.PGSQL.\(port)" }
        return "\(host) port \(port)"
    }

    public var database: String { parameters["dbname"] ?? parameters["user"] ?? "(the user's name)" }

    /// "PostgreSQL at 127.0.0.1 port 5432, database keys, user dkim": never the password.
    public var description: String {
        var text = "PostgreSQL at \(server), database \(database)"
        if let user = parameters["user"] { text += ", user \(user)" }
        if let password { text += ", password from \(password.source)" }
        return text
    }

    /// libpq's keywords and values for PQconnectStartParams, the password included.
    var keywordsAndValues: [(String, String)] {
        var pairs = parameters.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        if let password { pairs.append(("password", password.value)) }
        return pairs
    }
}
