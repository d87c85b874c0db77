/// A password for PostgreSQL that never shows itself: its description, debug description and
/// mirror (what `print`, `dump` and string interpolation use) are "(hidden)", so a DSN or an
/// error that holds one can be printed whole.
public struct PostgresPassword: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable {
    /// The password itself, for libpq only.
    let value: String
    /// Where it was written, for messages: "the DSN" or the path of the file.
    public let source: String

    init(_ value: String, source: String) {
        self.value = value
        self.source = source
    }

    public var description: String { "(hidden)" }
    public var debugDescription: String { "(hidden)" }
    public var customMirror: Mirror { Mirror(self, children: ["source": source]) }
}
