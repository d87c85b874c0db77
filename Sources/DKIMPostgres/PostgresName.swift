import Foundation

/// A table or column name from the configuration, read as PostgreSQL reads the same text written
/// unquoted in SQL, which is what OpenDKIM does (it pastes `table`, `keycol` and `datacol` into its
/// query): parts separated by "." (`mail.dkim` is table dkim in schema mail), an unquoted part
/// folded to lower case (`DomainName` is the column domainname), a part in double quotes kept as it
/// is (`"DomainName"`, with `""` for a quote), spaces around a part ignored; an unquoted part
/// must be an identifier (letters, digits, `_`, `$`). "Key words and
/// unquoted identifiers are case-insensitive … Quoting an identifier also makes it case-sensitive"
/// (PostgreSQL 15 §4.1.1).
///
/// We never paste the text: each part goes into the SQL through PQescapeIdentifier, so a name is
/// only ever a name (an expression in `datacol`, which OpenDKIM would run, is refused as a missing
/// column; put it in a view).
public struct PostgresName: Sendable, Hashable, CustomStringConvertible {
    /// The parts as PostgreSQL stores them (schema, table) or (column).
    public let parts: [String]

    init(parts: [String]) { self.parts = parts }

    /// Reads `text`; nil when a part is empty or a quote is not closed.
    init?(parsing text: String) {
        var parts: [String] = []
        var current = ""
        var quoted = false, wasQuoted = false
        var chars = Array(text)[...]
        func finish() -> Bool {
            let part = wasQuoted ? current : current.trimmingSpaces
            guard !part.isEmpty, wasQuoted || Self.isPlainIdentifier(part) else { return false }
            parts.append(wasQuoted ? part : String(part.map { $0.isASCII ? Character($0.lowercased()) : $0 }))
            current = ""
            wasQuoted = false
            return true
        }
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" { chars.removeFirst(); current.append("\"") } else { quoted = false }
                } else {
                    current.append(c)
                }
            } else if c == "\"" {
                guard current.trimmingSpaces.isEmpty, !wasQuoted else { return nil }
                current = ""
                quoted = true
                wasQuoted = true
            } else if c == "." {
                guard finish() else { return nil }
            } else if wasQuoted {
                guard c == " " || c == "\t" else { return nil }
            } else {
                current.append(c)
            }
        }
        guard !quoted, finish() else { return nil }
        self.parts = parts
    }

    /// What SQL takes as an unquoted identifier: a letter (any non-ASCII character counts as one)
    /// or "_", then letters, digits, "_" and "$" (§4.1.1).
    static func isPlainIdentifier(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first == "_" || !first.isASCII || first.properties.isAlphabetic
        else { return false }
        return text.unicodeScalars.allSatisfy {
            !$0.isASCII || $0 == "_" || $0 == "$" || ($0.properties.isAlphabetic || ("0"..."9").contains($0))
        }
    }

    /// Splits a comma-separated list of names (OpenDKIM's `datacol=a,b,c`), commas inside
    /// quotes kept; nil when one of them is not a name.
    static func list(parsing text: String) -> [PostgresName]? {
        var items: [String] = []
        var current = ""
        var quoted = false
        for c in text {
            if c == "\"" { quoted.toggle() }
            if c == "," && !quoted {
                items.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        items.append(current)
        var names: [PostgresName] = []
        for item in items {
            guard let name = PostgresName(parsing: item) else { return nil }
            names.append(name)
        }
        return names
    }

    /// The name as a person would type it: parts that need no quotes bare, the others quoted.
    public var description: String {
        parts.map { part in
            let plain = part.first.map { $0 == "_" || ($0.isASCII && $0.isLetter) } == true
                && part.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLowercase || $0.isNumber)) }
            return plain ? part : "\"" + part.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }.joined(separator: ".")
    }

    /// The last part: the column, or the table without its schema.
    public var last: String { parts[parts.count - 1] }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
