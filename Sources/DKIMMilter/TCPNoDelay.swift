import DKIMMilterCore
import Glibc

/// TCP_NODELAY on the milter's TCP connections. libmilter sets neither it nor exposes its
/// sockets; without it the header change and the final reply of a signed message are held by
/// Nagle's algorithm against the MTA's delayed ACK (~40 ms per message).
enum TCPNoDelay {
    /// Sets TCP_NODELAY on every listening TCP socket of the process. Linux copies it into each
    /// connection accepted afterwards.
    static func setOnListeningSockets() {
        for fd in openDescriptors() where isStream(fd) && option(fd, SOL_SOCKET, SO_ACCEPTCONN) == 1 {
            set(fd)
        }
    }

    /// Connections the kernel completed between libmilter's listen() and `setOnListeningSockets`
    /// were copied from the listener before it had the option. Once libmilter has accepted them
    /// (right after it starts), this sets it on every connected TCP socket of the process, twice:
    /// half a second and two seconds after the start.
    static func catchEarlyConnections() {
        var thread = pthread_t()
        pthread_create(&thread, nil, { _ in
            for pause: UInt32 in [500_000, 1_500_000] {
                usleep(pause)
                TCPNoDelay.setOnConnectedSockets()
            }
            return nil
        }, nil)
        pthread_detach(thread)
    }

    /// Sets TCP_NODELAY on every connected TCP socket of the process that lacks it.
    static func setOnConnectedSockets() {
        for fd in openDescriptors() where isStream(fd) && option(fd, SOL_SOCKET, SO_ACCEPTCONN) == 0
            && option(fd, Int32(IPPROTO_TCP), TCP_NODELAY) == 0 {
            set(fd)
        }
    }

    /// The process's open descriptors (from /proc/self/fd, so none is missed above any bound).
    static func openDescriptors() -> [Int32] {
        guard let dir = opendir("/proc/self/fd") else { return [] }
        defer { closedir(dir) }
        var fds: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if let fd = Int32(name) { fds.append(fd) }
        }
        return fds
    }

    /// A TCP socket (IPv4 or IPv6 stream).
    static func isStream(_ fd: Int32) -> Bool {
        guard option(fd, SOL_SOCKET, SO_TYPE) == Int32(SOCK_STREAM.rawValue) else { return false }
        let domain = option(fd, SOL_SOCKET, SO_DOMAIN)
        return domain == AF_INET || domain == AF_INET6
    }

    /// An integer socket option, or nil when `fd` is not a socket or has no such option.
    static func option(_ fd: Int32, _ level: Int32, _ name: Int32) -> Int32? {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, level, name, &value, &length) == 0 ? value : nil
    }

    private static func set(_ fd: Int32) {
        var on: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
    }
}
