import DKIM
import Glibc

/// A name server's address: IPv4 or IPv6, and the port (53 unless given, RFC 1035 §4.2).
public struct DNSNameserver: Sendable, Hashable, CustomStringConvertible {
    /// The address as written (without brackets or port).
    public let host: String
    public let port: UInt16
    /// The address in network order: 4 bytes for IPv4, 16 for IPv6.
    let address: [UInt8]
    /// The interface of a link-local IPv6 address (`fe80::1%eth0`), else 0.
    let scopeID: UInt32

    /// `192.0.2.1`, `192.0.2.1:5353`, `2001:db8::1`, `[2001:db8::1]:5353` or `fe80::1%eth0`.
    public init(_ text: String) throws(DKIMError) {
        var host = Substring(text)
        var port: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw Self.invalid(text) }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw Self.invalid(text) }
                port = rest.dropFirst()
            }
        } else if host.filter({ $0 == ":" }).count == 1, let colon = host.firstIndex(of: ":") {
            port = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        var number: UInt16 = 53
        if let port {
            guard let value = UInt16(port), value > 0 else { throw Self.invalid(text) }
            number = value
        }
        try self.init(host: String(host), port: number, original: text)
    }

    /// An address without a port, and the port.
    public init(host: String, port: UInt16 = 53) throws(DKIMError) {
        try self.init(host: host, port: port, original: host)
    }

    private init(host: String, port: UInt16, original: String) throws(DKIMError) {
        guard port > 0 else { throw Self.invalid(original) }
        let parts = host.split(separator: "%", maxSplits: 1, omittingEmptySubsequences: false)
        var v4 = in_addr()
        var v6 = in6_addr()
        if parts.count == 1, inet_pton(AF_INET, host, &v4) == 1 {
            address = withUnsafeBytes(of: v4) { Array($0) }
            scopeID = 0
        } else if inet_pton(AF_INET6, String(parts[0]), &v6) == 1 {
            address = withUnsafeBytes(of: v6) { Array($0) }
            if parts.count == 2 {
                let index = UInt32(parts[1]) ?? if_nametoindex(String(parts[1]))
                guard index != 0 else { throw Self.invalid(original) }
                scopeID = index
            } else {
                scopeID = 0
            }
        } else {
            throw Self.invalid(original)
        }
        self.host = host
        self.port = port
    }

    private static func invalid(_ text: String) -> DKIMError {
        DKIMError(.invalidArgument, "\"\(text)\" is not a name server address such as 127.0.0.1, 127.0.0.1:5353, "
                  + "::1 or [::1]:5353")
    }

    public var isIPv6: Bool { address.count == 16 }

    /// `IP:PORT`, with brackets around an IPv6 address.
    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The socket address family (AF_INET or AF_INET6).
    var family: Int32 { isIPv6 ? AF_INET6 : AF_INET }

    /// Calls `body` with the server as a socket address.
    func withSocketAddress<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var storage = sockaddr_storage()
        let length = fill(&storage)
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }

    /// Whether a datagram's source address is this server: same family, address and port
    /// (RFC 5452 §9.1).
    func isSource(_ storage: sockaddr_storage) -> Bool {
        var mine = sockaddr_storage()
        _ = fill(&mine)
        guard storage.ss_family == mine.ss_family else { return false }
        return withUnsafeBytes(of: storage) { theirs in
            withUnsafeBytes(of: mine) { ours in
                if isIPv6 {
                    // sin6_port, then sin6_addr (bytes 2..<4 and 8..<24 of sockaddr_in6)
                    return theirs[2..<4].elementsEqual(ours[2..<4]) && theirs[8..<24].elementsEqual(ours[8..<24])
                }
                return theirs[2..<8].elementsEqual(ours[2..<8])  // sin_port and sin_addr
            }
        }
    }

    private func fill(_ storage: inout sockaddr_storage) -> socklen_t {
        withUnsafeMutableBytes(of: &storage) { raw in
            if isIPv6 {
                var sin6 = sockaddr_in6()
                sin6.sin6_family = sa_family_t(AF_INET6)
                sin6.sin6_port = port.bigEndian
                sin6.sin6_scope_id = scopeID
                withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: address) }
                withUnsafeBytes(of: sin6) { raw.copyMemory(from: $0) }
                return socklen_t(MemoryLayout<sockaddr_in6>.size)
            }
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin.sin_addr) { $0.copyBytes(from: address) }
            withUnsafeBytes(of: sin) { raw.copyMemory(from: $0) }
            return socklen_t(MemoryLayout<sockaddr_in>.size)
        }
    }
}
