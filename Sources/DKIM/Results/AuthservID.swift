/// The authserv-id of an Authentication-Results field (RFC 8601 §2.2), read the way an RFC 8601
/// parser downstream reads it, so that a forged field claiming our id cannot slip past us.
///
/// `authres-header-field = "Authentication-Results:" [CFWS] authserv-id [CFWS authres-version] …`
/// with `authserv-id = value` (a token, or a quoted-string): the value is unfolded, leading
/// whitespace and comments (nested, with quoted-pairs) are skipped, a quoted-string is unquoted,
/// and the id is compared in lower case. Read on bytes: `"\r\n"` is a single Swift Character,
/// which once let folded forgeries through a Character-by-Character reading.
public enum AuthservID {
    /// The authserv-id of a field value (the bytes after the colon), lower case; empty when none.
    public static func of<C: Collection<UInt8>>(value: C) -> String {
        let bytes = value.filter { $0 != ASCII.cr && $0 != ASCII.lf }
        var i = 0
        skipCFWS(bytes, &i)
        guard i < bytes.count else { return "" }
        var id: [UInt8] = []
        if bytes[i] == 0x22 {
            i += 1
            while i < bytes.count, bytes[i] != 0x22 {
                if bytes[i] == 0x5C, i + 1 < bytes.count { i += 1 }
                id.append(bytes[i])
                i += 1
            }
        } else {
            while i < bytes.count, AuthenticationResults.isTokenByte(bytes[i]) || bytes[i] >= 0x80 {
                id.append(bytes[i])
                i += 1
            }
        }
        return ASCII.string(id.map(ASCII.lowercased))
    }

    /// The authserv-id of an Authentication-Results field.
    public static func of(_ field: HeaderField) -> String {
        of(value: field.rawValue)
    }

    /// Skips whitespace and comments: `CFWS` (RFC 5322 §3.2.2).
    private static func skipCFWS(_ bytes: [UInt8], _ i: inout Int) {
        while i < bytes.count {
            if ASCII.isWSP(bytes[i]) {
                i += 1
            } else if bytes[i] == 0x28 {
                var depth = 0
                while i < bytes.count {
                    switch bytes[i] {
                    case 0x5C: i += 1
                    case 0x28: depth += 1
                    case 0x29: depth -= 1
                    default: break
                    }
                    i += 1
                    if depth == 0 { break }
                }
            } else {
                return
            }
        }
    }
}
