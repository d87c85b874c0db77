/// An Authentication-Results field as a receiver wrote it (RFC 8601 §2.2), or an
/// ARC-Authentication-Results field (RFC 8617 §4.1.1: `i=N;` before the same content), read to
/// explain what the receiver saw. Parsing is lenient (what Gmail, Microsoft and Yahoo write is
/// read), bounded (at most 32 results, 32 properties each), and never fails on garbage: what
/// cannot be read is left out.
public struct ReceivedAuthenticationResults: Sendable, Equatable {
    public struct Result: Sendable, Equatable {
        /// `dkim`, `spf`, `dmarc`, … in lower case, without a version.
        public var method: String
        /// `pass`, `fail`, … in lower case.
        public var result: String
        /// The first comment after the result, e.g. `p=REJECT sp=REJECT dis=NONE` for Gmail's dmarc=.
        public var comment: String?
        /// `reason=` when given.
        public var reason: String?
        /// `ptype.property` (lower case) and value, in order: `header.from`, `smtp.mailfrom`, `header.d`, …
        public var properties: [Property]

        /// The first value of a property (`"header.d"`).
        public func property(_ name: String) -> String? {
            properties.first { $0.name == name }?.value
        }
    }

    public struct Property: Sendable, Equatable {
        public var name: String
        public var value: String
    }

    public var authservID: String
    /// The ARC instance (`i=`), for ARC-Authentication-Results.
    public var instance: Int?
    public var results: [Result]

    /// The results of one method.
    public func results(_ method: String) -> [Result] { results.filter { $0.method == method } }

    /// Reads a field's value (the text after the colon). Nil when it has no authserv-id.
    public init?(value: String, arc: Bool = false) {
        var segments = Self.segments(Self.tokens(value))
        if arc {
            guard let first = segments.first, first.count >= 3, case .word(let i) = first[0], i.lowercased() == "i",
                  case .equals = first[1], case .word(let n) = first[2], let number = Int(n) else { return nil }
            instance = number
            segments.removeFirst()
        }
        guard let head = segments.first, let id = head.lazy.compactMap(\.text).first, !id.isEmpty else { return nil }
        authservID = id
        results = []
        for segment in segments.dropFirst().prefix(32) {
            if let r = Self.result(segment) { results.append(r) }
        }
    }

    // MARK: - Tokens

    enum Token: Equatable {
        case word(String)
        case quoted(String)
        case comment(String)
        case equals
        case semicolon

        var text: String? {
            switch self {
            case .word(let w), .quoted(let w): w
            default: nil
            }
        }
    }

    /// Words (runs without space, `()";=`), quoted strings, comments (nested, with quoted-pairs), "=" and ";".
    static func tokens(_ value: String) -> [Token] {
        var out: [Token] = []
        // By scalar, not Character: "\r\n" is one Character and would hide the line break.
        let chars = value.unicodeScalars.prefix(16_384).map(Character.init)
        var i = 0
        var word = ""
        func flush() { if !word.isEmpty { out.append(.word(word)); word = "" } }
        while i < chars.count {
            let c = chars[i]
            switch c {
            case " ", "\t", "\r", "\n":
                flush(); i += 1
            case "=":
                flush(); out.append(.equals); i += 1
            case ";":
                flush(); out.append(.semicolon); i += 1
            case "\"":
                flush()
                var text = ""
                i += 1
                while i < chars.count, chars[i] != "\"" {
                    if chars[i] == "\\", i + 1 < chars.count { i += 1 }
                    text.append(chars[i]); i += 1
                }
                i += 1
                out.append(.quoted(text))
            case "(":
                flush()
                var depth = 0
                var text = ""
                while i < chars.count {
                    let d = chars[i]
                    if d == "\\", i + 1 < chars.count { text.append(chars[i + 1]); i += 2; continue }
                    if d == "(" { depth += 1; if depth > 1 { text.append(d) } } else if d == ")" {
                        depth -= 1
                        if depth == 0 { i += 1; break }
                        text.append(d)
                    } else {
                        text.append(d)
                    }
                    i += 1
                }
                out.append(.comment(text.trimmingSpaces))
            default:
                word.append(c); i += 1
            }
        }
        flush()
        return out
    }

    static func segments(_ tokens: [Token]) -> [[Token]] {
        var out: [[Token]] = [[]]
        for t in tokens {
            if t == .semicolon { out.append([]) } else { out[out.count - 1].append(t) }
        }
        return out
    }

    /// `method [ "/" version ] "=" result [comment] *( reason / ptype.property "=" value )`.
    static func result(_ segment: [Token]) -> Result? {
        let plain = segment.filter { if case .comment = $0 { false } else { true } }
        guard plain.count >= 3, case .word(let methodWord) = plain[0], plain[1] == .equals,
              let resultText = plain[2].text else { return nil }
        let method = String(methodWord.split(separator: "/").first ?? "").lowercased()
        var comment: String?
        // The first comment after the result token.
        var seenResult = 0
        for t in segment {
            if case .comment(let c) = t, seenResult >= 3 { comment = c; break }
            if t.text != nil || t == .equals { seenResult += 1 }
        }
        var r = Result(method: method, result: resultText.lowercased(), comment: comment, reason: nil, properties: [])
        var i = 3
        while i + 2 < plain.count {
            if case .word(let name) = plain[i], plain[i + 1] == .equals, let value = plain[i + 2].text {
                let key = name.lowercased()
                if key == "reason" { r.reason = value } else if r.properties.count < 32 {
                    r.properties.append(Property(name: key, value: value))
                }
                i += 3
            } else {
                i += 1
            }
        }
        return r
    }
}
