/// Just enough RFC 5322 address parsing to find the author domain of a From field.
public enum EmailAddress {
    /// The domain of the single mailbox in a From value, lower case, or nil when there is
    /// no address, or more than one.
    ///
    /// Handles `Name <local@domain>`, bare `local@domain`, quoted display names and comments.
    public static func domain(ofFromValue value: String) -> String? {
        guard let address = address(ofFromValue: value), let at = address.lastIndex(of: "@") else { return nil }
        return String(address[address.index(after: at)...])
    }

    /// The single mailbox address of a From value, with the domain in lower case; nil when there
    /// is no address, or more than one.
    public static func address(ofFromValue value: String) -> String? {
        var text: [Character] = []
        var depth = 0
        var quoted = false
        var escaped = false
        var addresses = 1
        var angle: [Character]?
        var inAngle = false
        for ch in value {
            if escaped { escaped = false; if inAngle { angle?.append(ch) }; continue }
            if ch == "\\" { escaped = true; continue }
            if quoted { if ch == "\"" { quoted = false }; continue }
            if depth > 0 {
                if ch == "(" { depth += 1 } else if ch == ")" { depth -= 1 }
                continue
            }
            switch ch {
            case "\"": quoted = true
            case "(": depth = 1
            case "<": inAngle = true; angle = []
            case ">": inAngle = false
            case ",": if !inAngle { addresses += 1 }
            default:
                if inAngle { angle?.append(ch) } else { text.append(ch) }
            }
        }
        guard addresses == 1 else { return nil }
        let address = String(angle ?? text).trimmingWhitespace()
        guard let at = address.lastIndex(of: "@") else { return nil }
        let local = String(address[..<at]).trimmingWhitespace()
        var domain = String(address[address.index(after: at)...]).trimmingWhitespace().lowercased()
        while domain.hasSuffix(".") { domain.removeLast() }
        if domain.hasPrefix("[") || domain.isEmpty || domain.contains(" ") || local.isEmpty { return nil }
        return local + "@" + domain
    }
}
