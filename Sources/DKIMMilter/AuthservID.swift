import DKIM

/// The authserv-id of an Authentication-Results field (RFC 8601 §2.2): the first token of
/// its value, before an optional version and the first `;`, comments removed, lower case.
enum AuthservID {
    static func of(_ field: HeaderField) -> String {
        var text = ""
        var depth = 0
        for ch in String(decoding: field.rawValue, as: UTF8.self) {
            if ch == "(" { depth += 1; continue }
            if ch == ")" { depth = max(0, depth - 1); continue }
            if depth > 0 { continue }
            if ch == ";" { break }
            text.append(ch)
        }
        let token = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }).first ?? ""
        return token.lowercased()
    }
}
