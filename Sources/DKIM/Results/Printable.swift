/// Untrusted text made safe to print: in a log line, on a terminal, in a header comment.
///
/// A signature's `s=` or `c=`, a From address or a DNS answer can hold control bytes: an ESC
/// sequence recolours a terminal, and a CR or LF starts a new physical log line (under systemd a
/// journal record of its own) that can read like another message's verdict. Every byte below 0x20
/// and 0x7F is written as `\xNN`, and a backslash as `\\`, so the escaped text is one line and
/// unambiguous. One function for every place that prints what a message or DNS said.
public enum Printable {
    /// The text with control bytes and backslashes escaped, cut to `limit` bytes (with "…") if given.
    public static func escaped(_ text: String, limit: Int? = nil) -> String {
        let bytes = text.utf8
        if limit.map({ bytes.count <= $0 }) ?? true, !bytes.contains(where: needsEscape) { return text }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 8)
        let digits = Array("0123456789abcdef".utf8)
        for b in bytes {
            if let limit, out.count >= limit {
                // Do not end inside a UTF-8 sequence.
                while let last = out.last, last & 0xC0 == 0x80 { out.removeLast() }
                if let last = out.last, last >= 0xC0 { out.removeLast() }
                out += Array("…".utf8)
                break
            }
            if b == 0x5C {
                out += [0x5C, 0x5C]
            } else if needsEscape(b) {
                out += [0x5C, 0x78, digits[Int(b >> 4)], digits[Int(b & 15)]]
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether a byte is escaped: controls, DEL and the backslash (the escape character itself).
    @inline(__always) static func needsEscape(_ b: UInt8) -> Bool { b < 0x20 || b == 0x7F || b == 0x5C }
}
