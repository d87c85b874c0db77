import Foundation
import Glibc

/// A datagram socket of the test's own standing in for systemd's `$NOTIFY_SOCKET`: it receives
/// what a service sends with sd_notify(3), one message (`NAME=VALUE` lines) per datagram.
public final class NotifySocket {
    public struct SocketError: Error, CustomStringConvertible { public var description: String }

    /// The path to give the service as NOTIFY_SOCKET.
    public let path: String
    private let fd: Int32

    /// Binds a socket at `path` (`@name`: in the abstract namespace), writable by every user (a
    /// service that dropped root must reach it).
    public init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError(description: "socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw SocketError(description: "\(path) is too long for a unix socket")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        if !abstract { unlink(path) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + (abstract ? 0 : 1))
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard rc == 0 else {
            let why = String(cString: strerror(errno))
            close(fd)
            throw SocketError(description: "bind \(path): \(why)")
        }
        if !abstract { chmod(path, 0o666) }
    }

    /// The next message, or nil when none arrives within `timeout` seconds.
    public func receive(timeout: TimeInterval) -> String? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, Int32(timeout * 1000)) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? String(decoding: buffer[..<n], as: UTF8.self) : nil
    }

    /// Messages until one holds the line `line` (that one included), or nil after `timeout`.
    public func receive(until line: String, timeout: TimeInterval) -> [String]? {
        let deadline = Date().addingTimeInterval(timeout)
        var messages: [String] = []
        while Date() < deadline {
            guard let m = receive(timeout: max(0.01, deadline.timeIntervalSinceNow)) else { return nil }
            messages.append(m)
            if m.split(separator: "\n").contains(Substring(line)) { return messages }
        }
        return nil
    }

    deinit {
        close(fd)
        if !path.hasPrefix("@") { unlink(path) }
    }
}

extension String {
    /// The value of `NAME=` in an sd_notify message (one `NAME=VALUE` per line).
    public func notifyField(_ name: String) -> String? {
        split(separator: "\n").first { $0.hasPrefix(name + "=") }.map { String($0.dropFirst(name.count + 1)) }
    }
}
