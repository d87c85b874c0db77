import DKIM

/// An SPF `macro-string` (RFC 7208 §7.1): literal text with macros such as `%{d}` or `%{ir}`,
/// expanded anew for every evaluation (§7.3).
public struct SPFMacroString: Sendable, Hashable, CustomStringConvertible {
    public enum Part: Sendable, Hashable {
        case literal(String)
        /// `%{` letter transformers delimiters `}`; an upper-case letter asks for URL escaping.
        case macro(letter: Character, urlEscaped: Bool, keep: Int?, reversed: Bool, delimiters: [Character])
    }

    public let parts: [Part]
    /// The text as written in the record.
    public let text: String

    public var description: String { text }

    /// Whether any part is a macro (then the expansion depends on the message).
    public var hasMacros: Bool { parts.contains { if case .macro = $0 { true } else { false } } }

    /// Reads a macro-string. `c`, `r` and `t` are refused unless `explanation` (RFC 7208 §7.2:
    /// they are only for `exp=` text).
    public init(parsing text: String, explanation: Bool = false) throws(SPFSyntaxError) {
        var parts: [Part] = []
        var literal = ""
        let chars = Array(text)
        var i = 0
        func flush() {
            if !literal.isEmpty { parts.append(.literal(literal)); literal = "" }
        }
        while i < chars.count {
            let c = chars[i]
            guard c == "%" else {
                // macro-literal = %x21-24 / %x26-7E
                guard let ascii = c.asciiValue, ascii >= 0x21, ascii <= 0x7E else {
                    throw SPFSyntaxError("\"\(Printable.escaped(text, limit: 80))\" contains \(Self.describe(c)), "
                        + "which an SPF macro-string cannot hold (RFC 7208 §7.1)")
                }
                literal.append(c)
                i += 1
                continue
            }
            guard i + 1 < chars.count else {
                throw SPFSyntaxError("\"\(Printable.escaped(text, limit: 80))\" ends with a lone %; write %% for a "
                    + "percent sign (RFC 7208 §7.1)")
            }
            switch chars[i + 1] {
            case "%": literal.append("%"); i += 2
            case "_": literal.append(" "); i += 2
            case "-": literal.append("%20"); i += 2
            case "{":
                guard let close = chars[(i + 2)...].firstIndex(of: "}") else {
                    throw SPFSyntaxError("\"\(Printable.escaped(text, limit: 80))\" has a %{ without its } "
                        + "(RFC 7208 §7.1)")
                }
                let body = Array(chars[(i + 2)..<close])
                flush()
                parts.append(try Self.macro(body, in: text, explanation: explanation))
                i = close + 1
            default:
                throw SPFSyntaxError("\"\(Printable.escaped(text, limit: 80))\" has %\(chars[i + 1]), which is not a "
                    + "macro: write %{letter}, %%, %_ or %- (RFC 7208 §7.1)")
            }
        }
        flush()
        self.parts = parts
        self.text = text
    }

    private static func describe(_ c: Character) -> String {
        c.asciiValue.map { "the byte 0x\(String($0, radix: 16))" } ?? "a non-ASCII character"
    }

    /// `macro-letter transformers *delimiter`.
    private static func macro(_ body: [Character], in text: String, explanation: Bool) throws(SPFSyntaxError) -> Part {
        let shown = Printable.escaped(text, limit: 80)
        guard let first = body.first, let lower = first.lowercased().first, "slodiphcrtv".contains(lower),
              first.isASCII else {
            throw SPFSyntaxError("\"\(shown)\": %{\(String(body))} does not start with a macro letter "
                + "(s l o d i p h v, and c r t in exp= only; RFC 7208 §7.2)")
        }
        if !explanation && "crt".contains(lower) {
            throw SPFSyntaxError("\"\(shown)\": the %{\(first)} macro may only be used in exp= text (RFC 7208 §7.2)")
        }
        var i = 1
        var digits = ""
        while i < body.count, body[i].isASCII, body[i].isNumber { digits.append(body[i]); i += 1 }
        var reversed = false
        if i < body.count, body[i] == "r" || body[i] == "R" { reversed = true; i += 1 }
        let delimiters = Array(body[i...])
        guard delimiters.allSatisfy({ ".-+,/_=".contains($0) }) else {
            throw SPFSyntaxError("\"\(shown)\": %{\(String(body))} has characters that are not delimiters "
                + "(. - + , / _ =) after its transformers (RFC 7208 §7.1)")
        }
        var keep: Int?
        if !digits.isEmpty {
            // RFC 7208 §7.3: a DIGIT transformer, if given, must be nonzero.
            guard let n = Int(digits.prefix(4)), n > 0 else {
                throw SPFSyntaxError("\"\(shown)\": %{\(String(body))} keeps 0 parts; the number must be at least 1 "
                    + "(RFC 7208 §7.3)")
            }
            keep = min(n, 128)
        }
        return .macro(letter: lower, urlEscaped: first.isUppercase, keep: keep, reversed: reversed,
                      delimiters: delimiters)
    }

    /// Whether the string is a `domain-spec` (RFC 7208 §7.1): it ends with a macro, or with
    /// "." and a `toplabel` (a label that is not all digits), optionally followed by ".".
    public var isDomainSpec: Bool {
        guard let last = parts.last else { return false }
        guard case .literal(let tail) = last else { return true }
        var text = Substring(tail)
        if text.hasSuffix(".") { text = text.dropLast() }
        guard let dot = text.lastIndex(of: ".") else {
            // The dot may end the previous literal only if there is one before a macro.
            return false
        }
        return Self.isTopLabel(text[text.index(after: dot)...])
    }

    /// `toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )`.
    static func isTopLabel(_ label: Substring) -> Bool {
        guard let first = label.first, let last = label.last else { return false }
        let alnum: (Character) -> Bool = { $0.isASCII && ($0.isLetter || $0.isNumber) }
        guard label.allSatisfy({ alnum($0) || $0 == "-" }), alnum(first), alnum(last) else { return false }
        return label.contains { $0.isLetter } || label.contains("-")
    }

    /// Expands the macros with `value` giving each letter's value (lower case letter); the result
    /// of a domain-spec longer than 253 bytes loses labels on the left until it fits (§7.3).
    public func expand(_ value: (Character) -> String) -> String {
        var out = ""
        for part in parts {
            switch part {
            case .literal(let text):
                out += text
            case .macro(let letter, let escaped, let keep, let reversed, let delimiters):
                var pieces = Self.split(value(letter), delimiters.isEmpty ? ["."] : delimiters)
                if reversed { pieces.reverse() }
                if let keep, keep < pieces.count { pieces = Array(pieces.suffix(keep)) }
                let joined = pieces.joined(separator: ".")
                out += escaped ? Self.urlEscaped(joined) : joined
            }
        }
        return out
    }

    /// The expansion as a name to look up: a final dot removed, cut to 253 bytes on the left.
    public func expandDomain(_ value: (Character) -> String) -> String {
        var name = expand(value)
        if name.hasSuffix(".") { name.removeLast() }
        while name.utf8.count > 253, let dot = name.firstIndex(of: ".") {
            name = String(name[name.index(after: dot)...])
        }
        return name
    }

    private static func split(_ value: String, _ delimiters: [Character]) -> [String] {
        value.split(omittingEmptySubsequences: false, whereSeparator: { delimiters.contains($0) }).map(String.init)
    }

    /// RFC 3986 §2.3: unreserved characters stay, everything else becomes %XX of its UTF-8 bytes.
    private static func urlEscaped(_ text: String) -> String {
        var out = ""
        for b in text.utf8 {
            let c = Character(Unicode.Scalar(b))
            if b < 0x80, c.isLetter || c.isNumber || "-._~".contains(c) {
                out.append(c)
            } else {
                out += "%" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true)
            }
        }
        return out
    }
}
