import DKIM

/// Body rewrites that mail systems (and broken signers) commonly apply, used to explain a body
/// hash mismatch: each is one entry of `all`, tried in turn by `FailureExplainer`.
enum BodyTransforms {
    /// The body as the verifier read it (every line ending CRLF) and as the file stores it.
    struct Body {
        var read: [UInt8]
        var stored: [UInt8]
    }

    /// One rewrite: a short name for the list of what was tried, the sentence when it explains
    /// the mismatch, and the body it would give (nil when it changes nothing).
    struct Transform: Sendable {
        var name: String
        var finding: String
        var apply: @Sendable (Body) -> [UInt8]?
    }

    static let all: [Transform] = [
        Transform(name: "bare LF line endings",
                  finding: "the signer hashed the body with its bare LF line endings as stored; RFC 6376 §5.3 "
                      + "requires converting them to CRLF before signing, which is what verifiers do",
                  apply: { $0.stored != $0.read && !$0.stored.isEmpty ? $0.stored : nil }),
        Transform(name: "trailing whitespace",
                  finding: "whitespace added at line ends in transit: it passes with trailing whitespace removed",
                  apply: { trailingWhitespaceRemoved($0.read) }),
        Transform(name: "8-bit/quoted-printable re-encoding",
                  finding: "the body was re-encoded from 8-bit to quoted-printable in transit: it passes decoded",
                  apply: { quotedPrintableDecoded($0.read) }),
        Transform(name: "quoted-printable encoding of 8-bit text",
                  finding: "8-bit content was re-encoded: it passes when encoded as quoted-printable",
                  apply: { quotedPrintableEncoded($0.read) }),
    ]

    /// The bytes after the header section as the file stores them: after the first empty line,
    /// whether it ends in CRLF or a bare LF.
    static func storedBody(of message: [UInt8]) -> [UInt8] {
        var lineStart = 0
        for (i, b) in message.enumerated() where b == 0x0A {
            let line = message[lineStart..<i]
            if line.isEmpty || (line.count == 1 && line.first == 0x0D) { return Array(message[(i + 1)...]) }
            lineStart = i + 1
        }
        return []
    }

    /// SP and HTAB removed before every CRLF.
    static func trailingWhitespaceRemoved(_ body: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count)
        for b in body {
            if b == 0x0D || b == 0x0A {
                while let last = out.last, last == 0x20 || last == 0x09 { out.removeLast() }
            }
            out.append(b)
        }
        return out
    }

    /// The length of the longest prefix ending at a line boundary whose hash matches, if any
    /// (content appended after signing). Looks at the last 2,000 line boundaries at most.
    static func prefixMatching(_ body: [UInt8], signature: DKIMSignature,
                               hash: ([UInt8], DKIMSignature) -> [UInt8]) -> Int? {
        var boundaries: [Int] = [0]
        var i = 0
        while i + 1 < body.count {
            if body[i] == 0x0D && body[i + 1] == 0x0A { boundaries.append(i + 2) }
            i += 1
        }
        for end in boundaries.suffix(2000).reversed() where end < body.count {
            if hash(Array(body[0..<end]), signature) == signature.bodyHash { return end }
        }
        return nil
    }

    /// Quoted-printable decoded (RFC 2045 §6.7): `=XX` escapes and soft line breaks.
    static func quotedPrintableDecoded(_ body: [UInt8]) -> [UInt8]? {
        func hex(_ b: UInt8) -> UInt8? {
            switch b {
            case 0x30...0x39: b - 0x30
            case 0x41...0x46: b - 0x41 + 10
            case 0x61...0x66: b - 0x61 + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(body.count)
        var i = 0
        var changed = false
        while i < body.count {
            let b = body[i]
            if b == 0x3D {
                if i + 2 < body.count, body[i + 1] == 0x0D, body[i + 2] == 0x0A { i += 3; changed = true; continue }
                if i + 2 < body.count, let h = hex(body[i + 1]), let l = hex(body[i + 2]) {
                    out.append(h << 4 | l); i += 3; changed = true; continue
                }
            }
            out.append(b)
            i += 1
        }
        return changed ? out : nil
    }

    /// 8-bit bytes and "=" encoded as quoted-printable (without re-wrapping lines).
    static func quotedPrintableEncoded(_ body: [UInt8]) -> [UInt8]? {
        guard body.contains(where: { $0 >= 0x80 }) else { return nil }
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for b in body {
            if b >= 0x80 || b == 0x3D {
                out.append(0x3D); out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)])
            } else {
                out.append(b)
            }
        }
        return out
    }
}
