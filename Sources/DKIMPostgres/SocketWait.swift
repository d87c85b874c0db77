import Dispatch
import Glibc

/// poll(2) on one socket (and, for the listener, a wake-up pipe) until a deadline: the one place a
/// thread of ours waits for PostgreSQL, so no wait outlives the caller's deadline.
enum SocketWait {
    enum Outcome: Equatable {
        /// The socket can be read (or has hung up: reading will say why) or written.
        case ready(readable: Bool, writable: Bool)
        /// The wake-up descriptor became readable first.
        case woken
        case timedOut
        case failed(String)
    }

    static func wait(_ fd: Int32, read: Bool, write: Bool, until deadline: DispatchTime,
                     wake: Int32? = nil) -> Outcome {
        var fds = [pollfd(fd: fd, events: Int16((read ? POLLIN : 0) | (write ? POLLOUT : 0)), revents: 0)]
        if let wake { fds.append(pollfd(fd: wake, events: Int16(POLLIN), revents: 0)) }
        while true {
            let timeout = milliseconds(until: deadline)
            let n = poll(&fds, nfds_t(fds.count), timeout)
            if n < 0 {
                if errno == EINTR { continue }
                return .failed("poll: \(String(cString: strerror(errno)))")
            }
            if fds.count > 1, fds[1].revents != 0 { return .woken }
            if n > 0, fds[0].revents != 0 {
                let events = Int32(fds[0].revents)
                let hungUp = events & (POLLHUP | POLLERR | POLLNVAL) != 0
                return .ready(readable: events & POLLIN != 0 || hungUp, writable: events & POLLOUT != 0 || hungUp)
            }
            if DispatchTime.now() >= deadline { return .timedOut }
        }
    }

    /// poll's timeout for `deadline`: rounded up, so a wait never ends just before it.
    static func milliseconds(until deadline: DispatchTime) -> Int32 {
        let now = DispatchTime.now().uptimeNanoseconds
        guard deadline.uptimeNanoseconds > now else { return 0 }
        let ms = (deadline.uptimeNanoseconds - now + 999_999) / 1_000_000
        return Int32(min(ms, UInt64(Int32.max)))
    }
}
