import Foundation

/// A folder of the key store, opened once and then written through its descriptor so that no
/// planted symbolic link or file is ever written through (issue 18, finding 7).
///
/// - Folders are made with their final mode (`mkdir(path, 0700)`), never made open and then
///   narrowed with `chmod`.
/// - The domain folder is opened with `O_NOFOLLOW`: a link there would put the key wherever it
///   points.
/// - A file is written under a new temporary name (`O_CREAT|O_EXCL|O_NOFOLLOW`, so it cannot be
///   an existing file or a link) and then put at its final name in one step: `link()` when the
///   name must be new (it fails with `EEXIST` and never replaces anything), `rename()` to replace
///   (the old file is never truncated or rewritten in place, and `rename()` replaces a link at
///   the target instead of following it).
/// - A symbolic link at a final name is refused before anything is written, with or without
///   `--force`.
final class KeyStoreDirectory {
    let path: String
    private let fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit { close(fd) }

    /// Opens `path`, first making it and any missing parent with `mode`. Links in the path the
    /// user gave are followed, as for any path on the command line.
    static func open(creating path: String, mode: mode_t) throws(ToolError) -> KeyStoreDirectory {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + component
            guard mkdir(prefix, mode) == 0 || errno == EEXIST else {
                throw ToolError("cannot create the directory \(prefix): \(String(cString: strerror(errno)))")
            }
        }
        let fd = Foundation.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ToolError("cannot open the directory \(path): \(String(cString: strerror(errno)))")
        }
        return KeyStoreDirectory(path: path, fd: fd)
    }

    /// Opens the folder `name` inside this one, making it with `mode` if missing; a link is refused.
    func subdirectory(_ name: String, mode: mode_t) throws(ToolError) -> KeyStoreDirectory {
        let full = path + "/" + name
        guard mkdirat(fd, name, mode) == 0 || errno == EEXIST else {
            throw ToolError("cannot create the directory \(full): \(String(cString: strerror(errno)))")
        }
        let sub = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard sub >= 0 else {
            // With O_DIRECTORY, Linux reports a link as ENOTDIR rather than ELOOP.
            let code = errno
            var st = stat()
            let isLink = fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_mode & S_IFMT == S_IFLNK
            switch isLink ? ELOOP : code {
            case ELOOP:
                throw ToolError("\(full) is a symbolic link; dkimkey does not write keys through links. "
                    + "Remove it (rm \(full)) or give --keys-dir the real key store")
            case ENOTDIR:
                throw ToolError("\(full) is not a directory; move it away, then run dkimkey generate again")
            default:
                throw ToolError("cannot open the directory \(full): \(String(cString: strerror(code)))")
            }
        }
        return KeyStoreDirectory(path: full, fd: sub)
    }

    /// What is at a final name before writing: nothing, or a regular file that may be replaced.
    enum Existing {
        case nothing
        case regularFile
    }

    /// Looks at `name` without following a link there; a link, or anything but a regular file, is refused.
    func existing(_ name: String) throws(ToolError) -> Existing {
        let full = path + "/" + name
        var st = stat()
        guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return .nothing }
            throw ToolError("cannot examine \(full): \(String(cString: strerror(errno)))")
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG:
            return .regularFile
        case S_IFLNK:
            throw ToolError("\(full) is a symbolic link; dkimkey never writes through a link, with or without --force. "
                + "Remove it (rm \(full)) and run dkimkey generate again")
        default:
            throw ToolError("\(full) exists and is not a regular file; move it away, then run dkimkey generate again")
        }
    }

    /// A file written under a temporary name in this folder, waiting to be put at its final name.
    struct PendingFile {
        var temporaryName: String
        var device: dev_t
        var inode: ino_t
    }

    /// Writes `bytes` to a new temporary file with exactly `mode` (not reduced by the umask).
    func writeTemporary(_ bytes: [UInt8], for name: String, mode: mode_t) throws(ToolError) -> PendingFile {
        var fd: Int32 = -1
        var temporaryName = ""
        for _ in 0..<16 where fd < 0 {
            temporaryName = ".\(name).\(String(UInt64.random(in: 0...UInt64.max), radix: 16)).tmp"
            fd = openat(self.fd, temporaryName, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
            guard fd >= 0 || errno == EEXIST else { break }
        }
        guard fd >= 0 else {
            throw ToolError("cannot write in \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        do throws(ToolError) {
            // Our own new file: setting its mode through the descriptor cannot reach another file.
            guard fchmod(fd, mode) == 0 else { throw error(writing: name) }
            var written = 0
            while written < bytes.count {
                let n = bytes[written...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw error(writing: name) }
                written += n
            }
            guard fsync(fd) == 0 else { throw error(writing: name) }
            var st = stat()
            guard fstat(fd, &st) == 0 else { throw error(writing: name) }
            return PendingFile(temporaryName: temporaryName, device: st.st_dev, inode: st.st_ino)
        } catch {
            unlinkat(self.fd, temporaryName, 0)
            throw error
        }
    }

    /// Puts a pending file at `name`: by `link()` when the name must be new, by `rename()` when
    /// an existing file is replaced. The temporary name is gone afterwards, whatever happens.
    func install(_ file: PendingFile, as name: String, replacing: Bool) throws(ToolError) {
        defer { unlinkat(fd, file.temporaryName, 0) }
        let full = path + "/" + name
        if replacing {
            guard renameat(fd, file.temporaryName, fd, name) == 0 else { throw error(writing: name) }
        } else {
            guard linkat(fd, file.temporaryName, fd, name, 0) == 0 else {
                if errno == EEXIST {
                    throw ToolError("\(full) appeared while the key was being made; nothing was replaced. "
                        + "Look at what is there, then run dkimkey generate again")
                }
                throw error(writing: name)
            }
        }
        fsync(fd)
    }

    /// Removes `name` if it is still the file that was installed there (used to undo half a generation).
    func remove(_ name: String, ifStill file: PendingFile) {
        var st = stat()
        if fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0, st.st_dev == file.device, st.st_ino == file.inode {
            unlinkat(fd, name, 0)
        }
    }

    /// Discards a pending file that will not be installed.
    func discard(_ file: PendingFile) {
        unlinkat(fd, file.temporaryName, 0)
    }

    private func error(writing name: String) -> ToolError {
        ToolError("cannot write \(path)/\(name): \(String(cString: strerror(errno)))")
    }
}
