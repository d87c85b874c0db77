import Glibc

/// A non-blocking socket connected to one name server (UDP or TCP), closed by its owner. The
/// kernel picks the source port anew for each socket (RFC 5452 §9.2: ports as well as ids
/// must be unpredictable).
struct DNSSocket {
    let fd: Int32
    let isStream: Bool

    /// What a send or receive did.
    enum Transfer {
        case done(Int)
        case wouldBlock
        case failed(errno: Int32)
    }

    /// A socket to `server`. For TCP the connection is usually still being made (`connecting`);
    /// wait until it is writable, then read `pendingError()`.
    static func open(to server: DNSNameserver, stream: Bool) -> (socket: DNSSocket, connecting: Bool)? {
        let kind = stream ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue
        let fd = Glibc.socket(server.family, Int32(kind | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        let status = server.withSocketAddress { Glibc.connect(fd, $0, $1) }
        if status == 0 { return (DNSSocket(fd: fd, isStream: stream), false) }
        if stream, errno == EINPROGRESS { return (DNSSocket(fd: fd, isStream: stream), true) }
        let saved = errno
        Glibc.close(fd)
        errno = saved
        return nil
    }

    func send(_ bytes: ArraySlice<UInt8>) -> Transfer {
        let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if n >= 0 { return .done(n) }
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? .wouldBlock : .failed(errno: errno)
    }

    /// Receives into `buffer`; for UDP also says where the datagram came from.
    func receive(into buffer: inout [UInt8], from source: inout sockaddr_storage) -> Transfer {
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let n = buffer.withUnsafeMutableBytes { raw in
            withUnsafeMutablePointer(to: &source) { address in
                address.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    recvfrom(fd, raw.baseAddress, raw.count, 0, $0, &length)
                }
            }
        }
        if n >= 0 { return .done(n) }
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? .wouldBlock : .failed(errno: errno)
    }

    /// The error of a connect that was in progress (SO_ERROR), 0 when it succeeded.
    func pendingError() -> Int32 {
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 else { return errno }
        return error
    }

    func close() {
        Glibc.close(fd)
    }
}
