/// One header field exactly as it was sent (RFC 5322 §2.2).
///
/// `bytes` holds the name, the colon and the value with every folding CRLF and
/// whitespace byte kept, without the CRLF that ends the field. Simple header
/// canonicalization (RFC 6376 §3.4.1) needs exactly these bytes.
public struct HeaderField: Sendable, Hashable {
    /// The field as sent, without its final CRLF.
    public let bytes: [UInt8]
    /// Index of the first colon in `bytes`, or nil for a malformed line without one.
    public let colonIndex: Int?

    /// The field name in lower case, for case-insensitive comparison (RFC 5322 §1.2.2).
    public let lowercasedName: String

    /// Creates a field from its raw bytes (no final CRLF).
    public init(bytes: [UInt8]) {
        self.bytes = bytes
        let colon = bytes.firstIndex(of: ASCII.colon)
        self.colonIndex = colon
        var end = colon ?? bytes.count
        while end > 0, ASCII.isWSP(bytes[end - 1]) { end -= 1 }
        var lower = [UInt8](repeating: 0, count: end)
        var ascii = true
        for i in 0..<end {
            let b = bytes[i]
            if b >= 0x80 { ascii = false }
            lower[i] = ASCII.lowercased(b)
        }
        self.lowercasedName = ascii ? String(decoding: lower, as: UTF8.self) : String(decoding: bytes[0..<end], as: UTF8.self).lowercased()
    }

    /// Creates a field from a name and a value written as they should appear after the colon
    /// (for example `" example"` keeps the customary space).
    public init(name: String, value: String) {
        self.init(bytes: Array(name.utf8) + [ASCII.colon] + Array(value.utf8))
    }

    /// The field name without whitespace before the colon, as written (case kept).
    public var name: String {
        guard let colon = colonIndex else { return ASCII.string(bytes) }
        var end = colon
        while end > 0, ASCII.isWSP(bytes[end - 1]) { end -= 1 }
        return ASCII.string(bytes[0..<end])
    }

    /// The raw value bytes after the colon, folding kept.
    public var rawValue: ArraySlice<UInt8> {
        guard let colon = colonIndex else { return [] }
        return bytes[(colon + 1)...]
    }

    /// The value unfolded and trimmed, for display and address parsing.
    public var unfoldedValue: String {
        var out: [UInt8] = []
        out.reserveCapacity(rawValue.count)
        for b in rawValue where b != ASCII.cr && b != ASCII.lf { out.append(b) }
        return ASCII.string(out).trimmingWhitespace()
    }

    /// Whether this field has the given name, compared case-insensitively.
    public func hasName(_ lowercased: String) -> Bool { lowercasedName == lowercased }
}

extension String {
    /// The string without leading and trailing SP, HTAB, CR and LF.
    func trimmingWhitespace() -> String {
        let u = Array(utf8)
        var start = 0, end = u.count
        while start < end, ASCII.isFWS(u[start]) { start += 1 }
        while end > start, ASCII.isFWS(u[end - 1]) { end -= 1 }
        return ASCII.string(u[start..<end])
    }
}
