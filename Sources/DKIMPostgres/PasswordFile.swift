import DKIMMilterCore
import Glibc

/// A file holding a database password (`passwordfile=`) or libpq's password lines (`passfile=`):
/// a regular file that only its owner may read or write, like a private key (RequireSafeKeys asks
/// mode 0600 or 0400 of those). libpq asks the same of ~/.pgpass ("The permissions on .pgpass must
/// disallow any access to world or group … If the permissions are less strict than this, the file
/// will be ignored", PostgreSQL 15 §34.16); we refuse instead of ignoring, so the mistake is seen
/// at the start or by --check-config rather than as a refused login.
enum PasswordFile {
    /// The password: the file's first line, without its line end.
    static func read(_ path: String) throws(DatasetError) -> PostgresPassword {
        let fd = try open(path)
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count <= 65536 {
            let n = Glibc.read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw failure(path, "cannot be read: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            bytes += buffer[..<n]
        }
        let line = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).first ?? []
        var password = String(decoding: line, as: UTF8.self)
        if password.hasSuffix("\r") { password.removeLast() }
        guard !password.isEmpty else { throw failure(path, "is empty (the password is its first line)") }
        return PostgresPassword(password, source: path)
    }

    /// Refuses a file others may read or write (or that is missing, or not a regular file).
    static func checkMode(_ path: String) throws(DatasetError) {
        close(try open(path))
    }

    private static func open(_ path: String) throws(DatasetError) -> Int32 {
        guard path.hasPrefix("/") else { throw failure(path, "is not an absolute path") }
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { throw failure(path, "cannot be opened: \(String(cString: strerror(errno)))") }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let why = String(cString: strerror(errno))
            close(fd)
            throw failure(path, "cannot be examined: \(why)")
        }
        guard st.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw failure(path, "is not a regular file")
        }
        guard st.st_mode & 0o077 == 0 else {
            close(fd)
            throw failure(path, "can be read or written by other users (mode \(String(st.st_mode & 0o777, radix: 8))); "
                + "fix it with: chmod 600 \(path)")
        }
        return fd
    }

    private static func failure(_ path: String, _ why: String) -> DatasetError {
        DatasetError("the password file \(path) \(why)", isTemporary: false)
    }
}
