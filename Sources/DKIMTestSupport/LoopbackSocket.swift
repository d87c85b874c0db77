import Glibc

/// Sockets on 127.0.0.1 for tests: the servers that stand in for a real component, and ports
/// that were free a moment ago.
public enum LoopbackSocket {
    public enum Kind {
        case tcp, udp
        var type: Int32 { Int32(self == .tcp ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue) }
    }

    /// 127.0.0.1:`port` as a socket address.
    public static func address(port: Int = 0) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }

    /// A new socket bound to 127.0.0.1 on a port the kernel picks, and that port; nil when it
    /// cannot be made (errno says why). The caller closes it.
    public static func bound(_ kind: Kind) -> (fd: Int32, port: Int)? {
        bound(kind, port: 0)
    }

    /// A port of 127.0.0.1 that was free a moment ago for each of `kinds` (the kernel picks it for
    /// the first, the others are bound to the same number; all are closed again), for a server the
    /// test starts next. Never derive a port from the pid: it may lie in the ephemeral range and be
    /// taken by any outgoing connection.
    public static func freePort(_ kinds: [Kind] = [.tcp]) -> Int? {
        guard let kind = kinds.first else { return nil }
        for _ in 0..<20 {
            guard let first = bound(kind) else { return nil }
            let others = kinds.dropFirst().map { bound($0, port: first.port) }
            close(first.fd)
            for o in others { if let o { close(o.fd) } }
            if others.allSatisfy({ $0 != nil }) { return first.port }
        }
        return nil
    }

    /// A new socket bound to 127.0.0.1 (or ::1 when `ipv6`) on `port`, 0 for one the kernel
    /// picks, and the port bound; nil when it cannot be made (errno says why).
    public static func bound(_ kind: Kind, port: Int, ipv6: Bool = false) -> (fd: Int32, port: Int)? {
        let fd = socket(ipv6 ? AF_INET6 : AF_INET, kind.type, 0)
        guard fd >= 0 else { return nil }
        var bound = -1
        let ok: Bool
        if ipv6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = UInt16(port).bigEndian
            address.sin6_addr = in6addr_loopback
            var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            ok = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
                }
            }
            bound = Int(UInt16(bigEndian: address.sin6_port))
        } else {
            var address = address(port: port)
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            ok = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
                }
            }
            bound = Int(UInt16(bigEndian: address.sin_port))
        }
        guard ok else {
            let saved = errno
            close(fd)
            errno = saved
            return nil
        }
        return (fd, bound)
    }
}
