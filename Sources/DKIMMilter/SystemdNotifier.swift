import Foundation
import Glibc

/// Tells systemd how the service is doing through the sd_notify protocol (sd_notify(3)): each
/// message is one datagram of `NAME=VALUE` lines sent to the unix socket named by `$NOTIFY_SOCKET`
/// (a path, or `@name` in the abstract namespace). Without that variable (not started by systemd
/// with Type=notify) every call does nothing.
///
/// The unit (contrib/systemd/dkim-milter.service) is Type=notify: systemd counts the milter as
/// started at READY=1, which `MilterHost` sends only once the socket accepts connections, so a
/// Postfix ordered after it never meets a missing socket. RELOADING=1 (with MONOTONIC_USEC, which
/// systemd 253's Type=notify-reload requires) and READY=1 bracket a SIGUSR1 reload; STOPPING=1 is
/// sent once, at SIGTERM.
public final class SystemdNotifier: Sendable {
    /// `$NOTIFY_SOCKET` as given; nil when not under systemd.
    public let socket: String?
    private enum Phase { case starting, serving, stopping }
    private let phase = Locked(Phase.starting)

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let value = environment["NOTIFY_SOCKET"] ?? ""
        socket = value.hasPrefix("/") || value.hasPrefix("@") ? value : nil
    }

    /// The socket accepts connections.
    public func ready(status: String) {
        let first = phase.withLock { p in
            defer { if p == .starting { p = .serving } }
            return p == .starting
        }
        guard first else { return }
        send(["READY=1", "STATUS=\(status)"])
    }

    /// A reload starts; `reloaded(status:)` follows when it has ended, well or not. Nothing is
    /// sent before READY=1 or once stopping.
    public func reloading() {
        guard phase.withLock({ $0 == .serving }) else { return }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let microseconds = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
        send(["RELOADING=1", "MONOTONIC_USEC=\(microseconds)", "STATUS=Reloading keys and configuration"])
    }

    /// A reload has ended: ready again.
    public func reloaded(status: String) {
        guard phase.withLock({ $0 == .serving }) else { return }
        send(["READY=1", "STATUS=\(status)"])
    }

    /// The milter is stopping (sent once, however many signals arrive).
    public func stopping() {
        guard phase.withLock({ p in defer { p = .stopping }; return p != .stopping }) else { return }
        send(["STOPPING=1", "STATUS=Stopping: finishing the messages in flight"])
    }

    /// Sends one datagram of `fields`, one per line; false when it could not be sent (or there is
    /// no socket). systemd reads a notification as a hint, so a failure is not an error.
    @discardableResult
    public func send(_ fields: [String]) -> Bool {
        guard let socket else { return false }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socket.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }  // the abstract namespace starts with a NUL
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.count < capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.enumerated() { raw[i] = byte }
        }
        // A path is counted with its terminating NUL; an abstract name is exactly its bytes.
        let length = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + path.count + (path[0] == 0 ? 0 : 1)
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let message = Array((fields.joined(separator: "\n") + "\n").utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                message.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sa,
                                                 socklen_t(length)) }
            }
        }
        return sent == message.count
    }
}
