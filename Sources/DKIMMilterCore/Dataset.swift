import Dispatch

/// A table of OpenDKIM's dataset kind: rows found by a key, each giving data columns. A KeyTable
/// (key name → DOMAIN, SELECTOR, KEY) and a SigningTable (address or domain → key name) are
/// datasets; they live in files or in a database (`dsn:pgsql://…`), looked up lazily.
public protocol Dataset: Sendable {
    /// The data columns of the row whose key is `key` (compared as the source compares: exactly
    /// for files, with the column's collation for SQL), or nil when there is no such row.
    /// - Throws: `DatasetError` when the source cannot answer by `deadline` (down, slow, refused).
    func get(_ key: String, deadline: DispatchTime) throws(DatasetError) -> [String]?

    /// What it is, for messages: never with a password.
    var description: String { get }
}

/// A dataset that could not answer: temporary (the database is down or slow) or a
/// configuration problem (a missing table or column, a refused password).
public struct DatasetError: Error, Sendable, CustomStringConvertible {
    public var message: String
    /// True when trying again later may work (tempfail the message, keep cached keys).
    public var isTemporary: Bool

    public init(_ message: String, isTemporary: Bool) {
        self.message = message
        self.isTemporary = isTemporary
    }

    public var description: String { message }
}
