import Foundation

/// Reading the files the tools work with (messages, keys, record files), with errors that name
/// the file and the fix.
///
/// Every input is opened first and then checked on the open descriptor (`fstat`), so what is
/// checked is what is read. Only regular files are read (and standard input, for messages given
/// as `-`): a device such as /dev/zero reports size 0 and never ends, and opening a FIFO waits
/// for a writer, so both are refused by type before any byte is read. Reads stop at
/// `maximumFileSize` whatever the size said, so a file that grows while being read, or an
/// endless standard input, ends in an error instead of exhausting memory (issue 18, finding 11).
public enum FileAccess {
    /// The largest file read whole (messages, keys, record files).
    public static let maximumFileSize = 256 << 20

    /// The name a message given as `-` is read from.
    public static let standardInputName = "-"

    /// Reads a whole regular file; with `allowsStandardInput`, `-` reads standard input instead.
    public static func read(_ path: String, what: String,
                            allowsStandardInput: Bool = false) throws(ToolError) -> [UInt8] {
        if allowsStandardInput && path == standardInputName {
            return try readBounded(STDIN_FILENO, expected: nil, describing: "\(what) on standard input")
        }
        // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below by its type.
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw openError(path, what: what, errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw ToolError("\(what) \(path) could not be examined: \(String(cString: strerror(errno)))")
        }
        let type = st.st_mode & S_IFMT
        guard type != S_IFDIR else { throw ToolError("\(what) \(path) is a directory, not a file") }
        guard type == S_IFREG else {
            let hint = allowsStandardInput ? "; save it to a file first, or give - to read standard input" : ""
            throw ToolError("\(what) \(path) is not a regular file (it is \(describe(type)))\(hint)")
        }
        guard st.st_size <= maximumFileSize else {
            throw ToolError("\(what) \(path) is \(st.st_size) bytes; files above \(maximumFileSize) bytes are refused")
        }
        // Regular files never block; clear the flag so reads behave as usual.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return try readBounded(fd, expected: Int(st.st_size), describing: "\(what) \(path)")
    }

    /// Reads a text file (UTF-8; invalid bytes become U+FFFD).
    public static func readText(_ path: String, what: String) throws(ToolError) -> String {
        String(decoding: try read(path, what: what), as: UTF8.self)
    }

    /// Reads `fd` to its end, refusing more than `maximumFileSize` bytes.
    static func readBounded(_ fd: Int32, expected: Int?, describing name: String) throws(ToolError) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(min(expected ?? 0, maximumFileSize) + 1)
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if n == 0 { return bytes }
            if n < 0 {
                if errno == EINTR { continue }
                throw ToolError("\(name) could not be read: \(String(cString: strerror(errno)))")
            }
            guard bytes.count + n <= maximumFileSize else {
                throw ToolError("\(name) is more than \(maximumFileSize) bytes; inputs above that are refused")
            }
            bytes.append(contentsOf: chunk[..<n])
        }
    }

    static func openError(_ path: String, what: String, errno code: Int32) -> ToolError {
        switch code {
        case ENOENT, ENOTDIR:
            return ToolError("\(what) \(path) does not exist")
        case EACCES, EPERM:
            return ToolError("\(what) \(path) is not readable by this user (check its permissions with ls -l \(path))")
        default:
            return ToolError("\(what) \(path) could not be opened: \(String(cString: strerror(code)))")
        }
    }

    /// A file type in words, for "is not a regular file" messages.
    static func describe(_ type: mode_t) -> String {
        switch type {
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFIFO: "a FIFO"
        case S_IFSOCK: "a socket"
        case S_IFLNK: "a symbolic link"
        default: "not a plain file"
        }
    }
}
