import DKIM

/// An IPv4 or IPv6 address, as SPF compares it with networks (RFC 7208 §5.6) and writes it in
/// macros (§7.3) and reverse names (§5.5).
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes (IPv4) or 16 (IPv6), network order.
    public let bytes: [UInt8]

    public var isIPv6: Bool { bytes.count == 16 }

    /// The bits of the address family: 32 or 128.
    public var bitCount: Int { bytes.count * 8 }

    /// From 4 or 16 bytes; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is its IPv4 address,
    /// which is how SPF evaluates a client that connected over IPv4 to an IPv6 socket (RFC 7208 §5.6).
    public init?(bytes: [UInt8]) {
        switch bytes.count {
        case 4: self.bytes = bytes
        case 16 where bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF:
            self.bytes = Array(bytes[12...])
        case 16: self.bytes = bytes
        default: return nil
        }
    }

    /// Reads `192.0.2.1` or an IPv6 address in any RFC 4291 §2.2 form (`2001:db8::1`,
    /// `::ffff:192.0.2.1`). IPv4 is read as RFC 7208's `ip4-network`: four decimal numbers of at
    /// most 255 without leading zeros (`qnum`, §4.6.1); `1.2.03.4` is not an address.
    public init?(_ text: String) {
        if let v4 = Self.parseIPv4(Array(text.utf8)) {
            self.bytes = v4
        } else if let v6 = Self.parseIPv6(Array(text.utf8)), let address = IPAddress(bytes: v6) {
            self = address
        } else {
            return nil
        }
    }

    /// Whether this address is in `network/prefixLength` (the same family only: an `ip4` term
    /// never matches an IPv6 client, RFC 7208 §5.6).
    public func isIn(_ network: IPAddress, prefixLength: Int) -> Bool {
        guard network.bytes.count == bytes.count, prefixLength >= 0, prefixLength <= bitCount else { return false }
        var bits = prefixLength
        for i in 0..<bytes.count where bits > 0 {
            let mask: UInt8 = bits >= 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            if bytes[i] & mask != network.bytes[i] & mask { return false }
            bits -= 8
        }
        return true
    }

    /// `192.0.2.1`, or IPv6 as RFC 5952 writes it (`2001:db8::1`).
    public var description: String {
        isIPv6 ? DNSRecord.aaaa(bytes).description : DNSRecord.a(bytes).description
    }

    /// The `i` macro (RFC 7208 §7.3): IPv4 dotted, IPv6 as 32 dot-separated nibbles
    /// (`2.0.0.1.0.d.b.8.…`).
    public var macroText: String {
        isIPv6 ? nibbles.joined(separator: ".") : description
    }

    /// The `v` macro: `in-addr` or `ip6` (RFC 7208 §7.3).
    public var macroVersion: String { isIPv6 ? "ip6" : "in-addr" }

    /// The name of the address's PTR records: `1.2.0.192.in-addr.arpa`, or the nibbles reversed
    /// under `ip6.arpa` (RFC 1035 §3.5, RFC 3596 §2.5).
    public var reverseName: String {
        if isIPv6 { return nibbles.reversed().joined(separator: ".") + ".ip6.arpa" }
        return bytes.reversed().map(String.init).joined(separator: ".") + ".in-addr.arpa"
    }

    private var nibbles: [String] {
        bytes.flatMap { [String($0 >> 4, radix: 16), String($0 & 15, radix: 16)] }
    }

    // MARK: - Reading

    static func parseIPv4<C: Collection<UInt8>>(_ text: C) -> [UInt8]? {
        let parts = text.split(separator: 0x2E, omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            if part.count > 1 && part.first == 0x30 { return nil }
            let value = part.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            guard value <= 255 else { return nil }
            out.append(UInt8(value))
        }
        return out
    }

    static func isHexDigit(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66)
    }

    static func parseIPv6(_ text: [UInt8]) -> [UInt8]? {
        guard text.count >= 2, text.count <= 45 else { return nil }
        // Split at "::" (at most once).
        var head: [UInt8] = text
        var tail: [UInt8]?
        for i in 0..<(text.count - 1) where text[i] == 0x3A && text[i + 1] == 0x3A {
            head = Array(text[..<i])
            tail = Array(text[(i + 2)...])
            let rest = tail!
            if rest.count >= 2, (0..<(rest.count - 1)).contains(where: { rest[$0] == 0x3A && rest[$0 + 1] == 0x3A }) {
                return nil
            }
            break
        }
        func groups(_ part: [UInt8], allowIPv4: Bool) -> [UInt8]? {
            guard !part.isEmpty else { return [] }
            let pieces = part.split(separator: 0x3A, omittingEmptySubsequences: false)
            var out: [UInt8] = []
            for (n, piece) in pieces.enumerated() {
                if allowIPv4, n == pieces.count - 1, piece.contains(0x2E) {
                    guard let v4 = parseIPv4(piece) else { return nil }
                    out += v4
                    continue
                }
                guard !piece.isEmpty, piece.count <= 4, piece.allSatisfy(isHexDigit),
                      let value = UInt16(String(decoding: piece, as: UTF8.self), radix: 16) else { return nil }
                out += [UInt8(value >> 8), UInt8(value & 0xFF)]
            }
            return out
        }
        if let tail {
            guard let h = groups(head, allowIPv4: false), let t = groups(tail, allowIPv4: true),
                  h.count + t.count <= 14 else {
                return nil
            }
            return h + [UInt8](repeating: 0, count: 16 - h.count - t.count) + t
        }
        guard let all = groups(head, allowIPv4: true), all.count == 16 else { return nil }
        return all
    }
}
