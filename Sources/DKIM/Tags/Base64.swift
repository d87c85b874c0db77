/// Strict base64 (RFC 4648 §4) as DKIM uses it in `b=`, `bh=` and `p=`: folding
/// whitespace is ignored (RFC 6376 §3.5), anything else outside the alphabet is an error.
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let decodeTable: [Int8] = {
        var t = [Int8](repeating: -1, count: 256)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = Int8(i) }
        return t
    }()

    /// Decodes base64 text, ignoring whitespace. Returns nil for any other byte outside
    /// the alphabet, misplaced padding or a length that is not a whole number of bytes.
    public static func decode(_ text: String) -> [UInt8]? {
        var text = text
        return text.withUTF8 { decode(bytes: $0) }
    }

    /// Decodes base64 bytes, with the rules of `decode(_:)`.
    public static func decode(bytes input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var bits = 0
        var padding = 0
        var failed = false
        let out = decodeTable.withUnsafeBufferPointer { table in
            [UInt8](unsafeUninitializedCapacity: input.count * 3 / 4 + 3) { buffer, count in
                var acc: UInt32 = 0
                for c in input {
                    let v = table[Int(c)]
                    if v < 0 {
                        if ASCII.isFWS(c) { continue }
                        if c == ASCII.equals { padding += 1; continue }
                        failed = true
                        break
                    }
                    if padding > 0 { failed = true; break }  // data after padding
                    acc = (acc << 6) | UInt32(v)
                    bits += 6
                    if bits >= 8 {
                        bits -= 8
                        buffer[count] = UInt8(truncatingIfNeeded: acc >> UInt32(bits))
                        count += 1
                    }
                }
            }
        }
        if failed { return nil }
        // Leftover bits: 0 (complete), 2 (three characters: one "=") or 4 (two characters: two "=").
        switch bits {
        case 0: if padding != 0 { return nil }
        case 2: if padding != 0 && padding != 1 { return nil }
        case 4: if padding != 0 && padding != 2 { return nil }
        default: return nil
        }
        return out
    }

    /// Encodes bytes as base64 with padding, on one line.
    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var it = bytes.makeIterator()
        while let b0 = it.next() {
            let b1 = it.next()
            let b2 = it.next()
            let n = (UInt32(b0) << 16) | (UInt32(b1 ?? 0) << 8) | UInt32(b2 ?? 0)
            out.append(alphabet[Int((n >> 18) & 63)])
            out.append(alphabet[Int((n >> 12) & 63)])
            out.append(b1 == nil ? ASCII.equals : alphabet[Int((n >> 6) & 63)])
            out.append(b2 == nil ? ASCII.equals : alphabet[Int(n & 63)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
