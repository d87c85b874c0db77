import DKIM

/// Body rewrites that mail systems commonly apply, used to explain a body hash mismatch.
enum BodyTransforms {
    /// Every LF not preceded by CR written as CRLF.
    static func bareLFToCRLF(_ body: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(body.count + 64)
        var changed = false
        var previous: UInt8 = 0
        for b in body {
            if b == 0x0A && previous != 0x0D { out.append(0x0D); changed = true }
            out.append(b)
            previous = b
        }
        return changed ? out : nil
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
