import Foundation

/// A list of hosts and networks (`InternalHosts`, `ExternalIgnoreList`): IPv4 and IPv6
/// addresses, CIDR blocks, host names, and `!` exclusions, as OpenDKIM reads them.
public struct NetworkList: Sendable, Equatable {
    struct Entry: Sendable, Equatable {
        var negated: Bool
        var network: [UInt8]?   // address bytes (4 or 16)
        var prefix: Int
        var hostname: String?
    }

    var entries: [Entry]

    /// 127.0.0.1 and ::1: OpenDKIM's default internal hosts.
    public static let loopback = try! NetworkList(parsing: ["127.0.0.1", "::1"])

    /// Parses entries such as `192.0.2.0/24`, `::1`, `mail.example.com`, `!192.0.2.7`.
    public init(parsing items: [String]) throws(ConfigurationError) {
        var entries: [Entry] = []
        for raw in items {
            var item = raw.trimmingCharacters(in: .whitespaces)
            if item.isEmpty || item.hasPrefix("#") { continue }
            var negated = false
            if item.hasPrefix("!") { negated = true; item.removeFirst() }
            var prefix: Int?
            var address = item
            if let slash = item.firstIndex(of: "/") {
                address = String(item[..<slash])
                guard let p = Int(item[item.index(after: slash)...]) else {
                    throw ConfigurationError("\"\(raw)\" has a bad prefix length after /")
                }
                prefix = p
            }
            if address.hasPrefix("[") && address.hasSuffix("]") { address = String(address.dropFirst().dropLast()) }
            if let bytes = Self.parseAddress(address) {
                let maxPrefix = bytes.count * 8
                let p = prefix ?? maxPrefix
                guard p >= 0 && p <= maxPrefix else {
                    throw ConfigurationError("\"\(raw)\": the prefix length must be between 0 and \(maxPrefix)")
                }
                entries.append(Entry(negated: negated, network: bytes, prefix: p, hostname: nil))
            } else {
                guard prefix == nil, address.contains(where: { $0.isLetter }),
                      address.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "*" }) else {
                    throw ConfigurationError(
                        "\"\(raw)\" is neither an IP address, a network such as 192.0.2.0/24, nor a host name")
                }
                entries.append(Entry(negated: negated, network: nil, prefix: 0, hostname: address.lowercased()))
            }
        }
        self.entries = entries
    }

    /// Whether an address (or host name) is in the list; a matching `!` entry excludes.
    public func contains(address: String?, hostname: String? = nil) -> Bool {
        let bytes = address.flatMap { Self.parseAddress($0) }
        var matched = false
        for e in entries {
            let hit: Bool
            if let net = e.network {
                guard let bytes else { continue }
                hit = Self.matches(bytes, net, e.prefix)
            } else if let name = e.hostname, let hostname = hostname?.lowercased() {
                hit = name.hasPrefix("*.") ? hostname.hasSuffix(String(name.dropFirst())) : hostname == name
            } else {
                hit = false
            }
            if hit {
                if e.negated { return false }
                matched = true
            }
        }
        return matched
    }

    static func parseAddress(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            let bytes = withUnsafeBytes(of: v6) { Array($0) }
            // IPv4-mapped IPv6 (::ffff:a.b.c.d) is the IPv4 address.
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
                return Array(bytes[12...])
            }
            return bytes
        }
        return nil
    }

    static func matches(_ address: [UInt8], _ network: [UInt8], _ prefix: Int) -> Bool {
        guard address.count == network.count else { return false }
        var bits = prefix
        for i in 0..<address.count where bits > 0 {
            let take = min(8, bits)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - take))
            if address[i] & mask != network[i] & mask { return false }
            bits -= take
        }
        return true
    }
}
