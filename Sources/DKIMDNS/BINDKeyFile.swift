import DKIM
import Glibc

/// BIND's key file: the `key` statement of named.conf (BIND 9 ARM, "key Block Grammar") that
/// `tsig-keygen` writes and `named.conf` includes, `nsupdate -k` reads:
///
///     key "dkim-rotate" {
///         algorithm hmac-sha256;
///         secret "base64…";
///     };
///
/// Comments as named.conf allows them (`//` and `#` to the end of the line, `/* … */`), any
/// whitespace, the name and values quoted or not. The file must hold exactly one key.
///
/// Security: the file is opened once and checked on the open descriptor (fstat), so what is
/// checked is what is read; a file its group or others may read or write is refused before it
/// is parsed. No message quotes text from the file except the key name and a recognised
/// algorithm name: any other token could be (part of) the secret, so it is described by its
/// kind and place only.
enum BINDKeyFile {
    /// Key files above this size are refused (one key is about 100 bytes).
    static let maximumSize = 64 << 10

    static func load(path: String) throws(DKIMError) -> TSIGKey {
        try parse(read(path: path), path: path)
    }

    // MARK: Reading

    static func read(path: String) throws(DKIMError) -> [UInt8] {
        // O_NONBLOCK: a FIFO must not block the open; it is refused below by its type.
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            switch code {
            case ENOENT, ENOTDIR:
                throw DKIMError(.tsigKey, "the TSIG key file \(path) does not exist; make it with: "
                                + "tsig-keygen -a hmac-sha256 NAME > \(path) && chmod 600 \(path), and include the "
                                + "same key in named.conf")
            case EACCES, EPERM:
                throw DKIMError(.tsigKey, "the TSIG key file \(path) is not readable by this user; run as its "
                                + "owner or give this user its own copy (chmod 600)")
            default:
                throw DKIMError(.tsigKey, "the TSIG key file \(path) cannot be opened: \(Self.describe(code))")
            }
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw DKIMError(.tsigKey, "the TSIG key file \(path) cannot be examined: \(Self.describe(errno))")
        }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw DKIMError(.tsigKey, "the TSIG key file \(path) is not a regular file")
        }
        let exposed = st.st_mode & 0o077
        guard exposed == 0 else {
            let who = exposed & 0o070 != 0 && exposed & 0o007 != 0 ? "its group and others"
                : exposed & 0o070 != 0 ? "its group" : "others"
            let mode = String(st.st_mode & 0o7777, radix: 8)
            let may = exposed & 0o022 != 0 ? "read or change" : exposed & 0o044 != 0 ? "read" : "open"
            throw DKIMError(.tsigKey, "the TSIG key file \(path) has mode \(mode), so \(who) may \(may) it, "
                            + "and whoever reads it can change the zone; nothing was sent. Fix it with: "
                            + "chmod 600 \(path)")
        }
        guard st.st_size <= maximumSize else {
            throw DKIMError(.tsigKey, "the TSIG key file \(path) is \(st.st_size) bytes; a key file holds one key "
                            + "statement of about 100 bytes (files above \(maximumSize) bytes are refused)")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n == 0 { return bytes }
            if n < 0 {
                if errno == EINTR { continue }
                throw DKIMError(.tsigKey, "the TSIG key file \(path) cannot be read: \(Self.describe(errno))")
            }
            guard bytes.count + n <= maximumSize else {
                throw DKIMError(.tsigKey, "the TSIG key file \(path) grew above \(maximumSize) bytes while read")
            }
            bytes += chunk[..<n]
        }
    }

    // MARK: Parsing

    /// Where a token starts: line and column, from 1.
    struct Position: CustomStringConvertible {
        var line: Int
        var column: Int
        var description: String { "\(line):\(column)" }
    }

    enum Kind: Equatable {
        case word(String)
        case quoted(String)
        case open, close, semicolon

        /// The token as a message may show it: punctuation and keyword-like words; other text
        /// (a quoted string, a long or mixed word) might be the secret, so only its kind.
        var shown: String {
            switch self {
            case .open: return "'{'"
            case .close: return "'}'"
            case .semicolon: return "';'"
            case .quoted: return "a quoted string"
            case .word(let w):
                let keywordLike = w.count <= 16 && w.utf8.allSatisfy { (0x61...0x7A).contains($0) || $0 == 0x2D }
                return keywordLike ? "'\(w)'" : "a word"
            }
        }

        var text: String? {
            switch self {
            case .word(let w), .quoted(let w): w
            default: nil
            }
        }
    }

    struct Token {
        var kind: Kind
        var position: Position
    }

    static func parse(_ bytes: [UInt8], path: String) throws(DKIMError) -> TSIGKey {
        func fail(_ position: Position?, _ what: String) -> DKIMError {
            DKIMError(.tsigKey, "the TSIG key file \(path)" + (position.map { ":\($0)" } ?? "") + ": \(what)")
        }
        let tokens = try tokenize(bytes, fail: fail)
        var keys: [(name: String, key: TSIGKey, position: Position)] = []
        var i = 0
        func next(_ expected: String, after: Position) throws(DKIMError) -> Token {
            guard i < tokens.count else { throw fail(after, "the file ends where \(expected) should follow") }
            defer { i += 1 }
            return tokens[i]
        }
        func expect(_ kind: Kind, _ expected: String, after: Position) throws(DKIMError) {
            let token = try next(expected, after: after)
            guard token.kind == kind else {
                throw fail(token.position, "expected \(expected), found \(token.kind.shown)")
            }
        }
        let statementForm = "a key statement: key \"NAME\" { algorithm hmac-sha256; secret \"…\"; };"
        while i < tokens.count {
            let start = tokens[i]
            guard start.kind == .word("key") else {
                throw fail(start.position, "expected \(statementForm) found \(start.kind.shown)")
            }
            i += 1
            let nameToken = try next("the key's name", after: start.position)
            guard let name = nameToken.kind.text else {
                throw fail(nameToken.position, "expected the key's name after 'key', found \(nameToken.kind.shown)")
            }
            try expect(.open, "'{' after the key's name", after: nameToken.position)
            var algorithm: (text: String, position: Position)?
            var secret: (text: String, position: Position)?
            var last = nameToken.position
            while true {
                let clause = try next("'algorithm', 'secret' or '}'", after: last)
                if clause.kind == .close { last = clause.position; break }
                guard case .word(let word) = clause.kind, word == "algorithm" || word == "secret" else {
                    throw fail(clause.position, "expected 'algorithm', 'secret' or '}' in the key statement, "
                               + "found \(clause.kind.shown)")
                }
                let value = try next("the \(word)'s value", after: clause.position)
                guard let text = value.kind.text else {
                    throw fail(value.position, "expected the \(word)'s value, found \(value.kind.shown)")
                }
                guard (word == "algorithm" ? algorithm : secret) == nil else {
                    throw fail(clause.position, "the key statement gives its \(word) twice")
                }
                if word == "algorithm" { algorithm = (text, value.position) } else { secret = (text, value.position) }
                try expect(.semicolon, "';' after the \(word)", after: value.position)
                last = value.position
            }
            try expect(.semicolon, "';' after the key statement's '}'", after: last)
            guard let algorithm else { throw fail(start.position, "the key statement has no algorithm") }
            guard let secret else { throw fail(start.position, "the key statement has no secret") }
            guard let bytes = Base64.decode(secret.text) else {
                throw fail(secret.position, "the secret is not valid base64 (it is not shown here); copy it again "
                           + "from the key file tsig-keygen wrote")
            }
            do {
                _ = try TSIGAlgorithm(named: algorithm.text)
            } catch {
                throw fail(algorithm.position, error.reason)
            }
            do {
                keys.append((name, try TSIGKey(name: name, algorithm: algorithm.text, secret: bytes), start.position))
            } catch {
                throw fail(nameToken.position, error.reason)
            }
        }
        guard keys.count == 1 else {
            if keys.isEmpty { throw fail(nil, "the file holds no key; expected \(statementForm)") }
            throw fail(nil, "the file holds \(keys.count) keys (\(keys.map(\.name).joined(separator: ", "))); "
                       + "give a file with the one key to use")
        }
        return keys[0].key
    }

    /// The tokens of named.conf's grammar, comments and whitespace dropped.
    static func tokenize(_ bytes: [UInt8], fail: (Position?, String) -> DKIMError) throws(DKIMError) -> [Token] {
        var tokens: [Token] = []
        var i = 0
        var line = 1
        var lineStart = 0
        func position(_ at: Int) -> Position { Position(line: line, column: at - lineStart + 1) }
        func advanceLine(_ at: Int) { line += 1; lineStart = at + 1 }
        while i < bytes.count {
            let b = bytes[i]
            let here = position(i)
            switch b {
            case 0x0A:
                advanceLine(i)
                i += 1
            case 0x20, 0x09, 0x0D, 0x0B, 0x0C:
                i += 1
            case 0x23:  // '#' to the end of the line
                while i < bytes.count && bytes[i] != 0x0A { i += 1 }
            case 0x2F where i + 1 < bytes.count && bytes[i + 1] == 0x2F:  // "//"
                while i < bytes.count && bytes[i] != 0x0A { i += 1 }
            case 0x2F where i + 1 < bytes.count && bytes[i + 1] == 0x2A:  // "/*"
                i += 2
                while true {
                    guard i + 1 < bytes.count else { throw fail(here, "a comment opened with /* is not closed") }
                    if bytes[i] == 0x2A && bytes[i + 1] == 0x2F { i += 2; break }
                    if bytes[i] == 0x0A { advanceLine(i) }
                    i += 1
                }
            case 0x7B: tokens.append(Token(kind: .open, position: here)); i += 1
            case 0x7D: tokens.append(Token(kind: .close, position: here)); i += 1
            case 0x3B: tokens.append(Token(kind: .semicolon, position: here)); i += 1
            case 0x22:
                var text: [UInt8] = []
                i += 1
                while true {
                    guard i < bytes.count else { throw fail(here, "a quoted string is not closed") }
                    let c = bytes[i]
                    if c == 0x22 { i += 1; break }
                    if c == 0x5C, i + 1 < bytes.count { text.append(bytes[i + 1]); i += 2; continue }
                    if c == 0x0A { advanceLine(i) }
                    text.append(c)
                    i += 1
                }
                tokens.append(Token(kind: .quoted(String(decoding: text, as: UTF8.self)), position: here))
            default:
                let start = i
                while i < bytes.count, !Self.endsWord(bytes[i]) { i += 1 }
                tokens.append(Token(kind: .word(String(decoding: bytes[start..<i], as: UTF8.self)), position: here))
            }
        }
        return tokens
    }

    private static func describe(_ code: Int32) -> String { String(cString: strerror(code)) }

    private static func endsWord(_ b: UInt8) -> Bool {
        [0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C, 0x7B, 0x7D, 0x3B, 0x22].contains(b)
    }
}
