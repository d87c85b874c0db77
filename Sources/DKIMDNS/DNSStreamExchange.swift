import Dispatch
import Glibc

/// One DNS message sent over a new TCP connection and the one message answering it (RFC 1035
/// §4.2.2, RFC 7766 §8: each message after its two-byte length), every step bounded by a
/// deadline on the monotonic clock. For DNS UPDATE and its SOA queries: RFC 7766 §5 lets every
/// DNS message go over TCP, where no answer is truncated.
enum DNSStreamExchange {
    /// Why no answer was had.
    enum Failure: Error, Equatable {
        /// The connection could not be made (errno: refused, unreachable, …).
        case cannotConnect(errno: Int32)
        /// The deadline passed while connecting, sending or waiting for the answer.
        case timedOut
        /// The server closed the connection before the whole answer came.
        case closed
        /// A send or receive failed (errno).
        case failed(errno: Int32)
    }

    /// Sends `message` to `server` and returns the answer's bytes.
    static func exchange(_ message: [UInt8], with server: DNSNameserver,
                         deadline: UInt64) -> Result<[UInt8], Failure> {
        guard let (socket, connecting) = DNSSocket.open(to: server, stream: true) else {
            return .failure(.cannotConnect(errno: errno))
        }
        defer { socket.close() }
        if connecting {
            guard wait(socket, for: Int16(POLLOUT), deadline: deadline) else { return .failure(.timedOut) }
            let error = socket.pendingError()
            guard error == 0 else { return .failure(.cannotConnect(errno: error)) }
        }
        var outgoing = DNSWire.u16(UInt16(message.count))[...] + message[...]
        while !outgoing.isEmpty {
            switch socket.send(outgoing) {
            case .done(let n): outgoing = outgoing.dropFirst(n)
            case .failed(let code): return .failure(.failed(errno: code))
            case .wouldBlock:
                guard wait(socket, for: Int16(POLLOUT), deadline: deadline) else { return .failure(.timedOut) }
            }
        }
        var incoming: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            if incoming.count >= 2 {
                let length = Int(incoming[0]) << 8 | Int(incoming[1])
                if incoming.count >= 2 + length { return .success(Array(incoming[2..<(2 + length)])) }
            }
            var source = sockaddr_storage()
            switch socket.receive(into: &buffer, from: &source) {
            case .done(0): return .failure(.closed)
            case .done(let n): incoming += buffer[0..<n]
            case .failed(let code): return .failure(.failed(errno: code))
            case .wouldBlock:
                guard wait(socket, for: Int16(POLLIN), deadline: deadline) else { return .failure(.timedOut) }
            }
        }
    }

    /// Waits until the socket is ready for `events` (or has an error or hang-up to report, which
    /// the next call reads); false when the deadline passes first.
    private static func wait(_ socket: DNSSocket, for events: Int16, deadline: UInt64) -> Bool {
        while true {
            let now = DispatchTime.now().uptimeNanoseconds
            guard now < deadline else { return false }
            let milliseconds = Int32(min((deadline - now + 999_999) / 1_000_000, UInt64(Int32.max)))
            var entry = pollfd(fd: socket.fd, events: events, revents: 0)
            let n = poll(&entry, 1, milliseconds)
            if n > 0 { return true }
            if n < 0 && errno != EINTR { return true }
        }
    }
}
