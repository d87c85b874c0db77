extension Canonicalization {
    /// Canonicalizes one header field, appending the result to `out`.
    ///
    /// - simple (RFC 6376 §3.4.1): the field exactly as sent.
    /// - relaxed (RFC 6376 §3.4.2): name in lower case, whitespace around the colon removed,
    ///   the value unfolded, runs of WSP reduced to one SP, trailing WSP removed.
    /// - Parameters:
    ///   - field: the raw field bytes, without the CRLF that ends the field.
    ///   - terminated: whether to append CRLF (the signature field itself is hashed without it, §3.7).
    public func canonicalizeHeader(_ field: [UInt8], terminated: Bool = true, into out: inout [UInt8]) {
        switch self {
        case .simple:
            out.append(contentsOf: field)
        case .relaxed:
            let colon = field.firstIndex(of: ASCII.colon) ?? field.count
            var nameEnd = colon
            while nameEnd > 0, ASCII.isWSP(field[nameEnd - 1]) { nameEnd -= 1 }
            for i in 0..<nameEnd { out.append(ASCII.lowercased(field[i])) }
            if colon < field.count {
                out.append(ASCII.colon)
                var pendingSpace = false
                var wroteValue = false
                var i = colon + 1
                while i < field.count {
                    let b = field[i]
                    i += 1
                    if b == ASCII.cr, i < field.count, field[i] == ASCII.lf {
                        i += 1  // unfold: CRLF removed
                        continue
                    }
                    if ASCII.isWSP(b) {
                        pendingSpace = true
                        continue
                    }
                    if pendingSpace && wroteValue { out.append(ASCII.space) }
                    pendingSpace = false
                    wroteValue = true
                    out.append(b)
                }
            }
        }
        if terminated { out.append(contentsOf: ASCII.crlf) }
    }

    /// The canonical form of one header field, as a new array.
    public func canonicalizedHeader(_ field: HeaderField, terminated: Bool = true) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(field.bytes.count + 2)
        canonicalizeHeader(field.bytes, terminated: terminated, into: &out)
        return out
    }
}
