import Foundation
import Glibc

/// TCP ports of 127.0.0.1 for the servers a test or a benchmark starts (Postfix, smtp-sink, a
/// milter), and waiting until one of them accepts connections.
public enum Loopback {
    /// `count` distinct ports on 127.0.0.1 that were free a moment ago (bound to port 0, read back, closed).
    public static func freePorts(_ count: Int) throws -> [Int] {
        var sockets: [Int32] = []
        defer { for s in sockets { close(s) } }
        var ports: [Int] = []
        for _ in 0..<count {
            // Kept open until all are read, so the ports differ.
            guard let (s, port) = LoopbackSocket.bound(.tcp) else {
                throw SMTPClient.Failure("socket/bind: \(String(cString: strerror(errno)))")
            }
            sockets.append(s)
            ports.append(port)
        }
        return ports
    }

    /// Connects to 127.0.0.1:`port`; the socket, or nil when nothing listens.
    public static func connect(_ port: Int, timeout: Int = 30) -> Int32? {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { return nil }
        var address = LoopbackSocket.address(port: port)
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard ok else { close(s); return nil }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return s
    }

    /// Waits (bounded) until something accepts connections on `port`; `alive` is asked between tries.
    public static func waitUntilListening(_ port: Int, timeout: TimeInterval = 20,
                                          alive: () -> Bool = { true }) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let s = connect(port, timeout: 2) { close(s); return true }
            if !alive() { return false }
            usleep(50_000)
        }
        return false
    }
}
