import Glibc

/// A self-pipe that wakes the client's thread out of poll() when a query is submitted.
final class DNSWakeUp: @unchecked Sendable {
    /// The end to poll.
    let fd: Int32
    private let writeEnd: Int32

    init?() {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return nil }
        for end in ends {
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        fd = ends[0]
        writeEnd = ends[1]
    }

    /// Makes the read end readable; never blocks (a full pipe is readable already).
    func signal() {
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    /// Empties the pipe.
    func drain() {
        var bytes = [UInt8](repeating: 0, count: 256)
        while read(fd, &bytes, bytes.count) == bytes.count {}
    }

    deinit {
        close(fd)
        close(writeEnd)
    }
}
