import Foundation

/// Reads configuration, table and key files, never blocking and never without a bound.
///
/// Files are opened with `O_NONBLOCK` and checked on the open descriptor: opening a FIFO would
/// otherwise wait for a writer, and a device such as /dev/zero never ends (issue 18). A FIFO or
/// a socket is refused; a character device such as /dev/null is read, up to `maximumSize`.
public enum TextFile {
    /// The largest file read (a KeyTable of 100,000 lines is about 10 MB; a key is a few KB).
    static let maximumSize = 64 << 20

    /// The text of a file; nil when it cannot be opened or read, is a FIFO or a socket, or is
    /// larger than `maximumSize`.
    public static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        let type = st.st_mode & S_IFMT
        guard type == S_IFREG || type == S_IFCHR else { return nil }
        return read(descriptor: fd).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The bytes of an open file to its end; nil on a read error or above `maximumSize`. The
    /// descriptor is switched to blocking reads (a regular file or a device never waits long).
    public static func read(descriptor fd: Int32) -> [UInt8]? {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if n == 0 { return bytes }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            guard bytes.count + n <= maximumSize else { return nil }
            bytes.append(contentsOf: chunk[..<n])
        }
    }
}
