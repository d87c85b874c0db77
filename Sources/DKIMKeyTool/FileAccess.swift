import Foundation

/// Reading and writing the files the tools work with, with errors that name the file and the fix.
public enum FileAccess {
    /// The largest file read whole (messages, keys, record files).
    public static let maximumFileSize = 256 << 20

    /// Reads a whole file.
    public static func read(_ path: String, what: String) throws(ToolError) -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ToolError("\(what) \(path) does not exist")
        }
        guard !isDirectory.boolValue else { throw ToolError("\(what) \(path) is a directory, not a file") }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw ToolError("\(what) \(path) is not readable by this user (check its permissions with ls -l \(path))")
        }
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > maximumFileSize {
            throw ToolError("\(what) \(path) is \(size) bytes; files above \(maximumFileSize) bytes are refused")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ToolError("\(what) \(path) could not be opened")
        }
        defer { try? handle.close() }
        do {
            return Array(try handle.readToEnd() ?? Data())
        } catch {
            throw ToolError("\(what) \(path) could not be read: \(error.localizedDescription)")
        }
    }

    /// Reads a text file.
    public static func readText(_ path: String, what: String) throws(ToolError) -> String {
        String(decoding: try read(path, what: what), as: UTF8.self)
    }

    /// Writes a file with the given permission bits, refusing to replace one unless `overwrite`.
    public static func write(_ bytes: [UInt8], to path: String, mode: Int, overwrite: Bool) throws(ToolError) {
        let flags = O_WRONLY | O_CREAT | (overwrite ? O_TRUNC : O_EXCL)
        let fd = open(path, flags, mode_t(mode))
        guard fd >= 0 else {
            if errno == EEXIST { throw ToolError("\(path) already exists; use --force to replace it") }
            throw ToolError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        // The mode given to open() is reduced by the umask and ignored for existing files.
        fchmod(fd, mode_t(mode))
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw ToolError("cannot write \(path): \(String(cString: strerror(errno)))") }
            written += n
        }
    }

    /// Creates a directory and its parents.
    public static func makeDirectory(_ path: String, mode: Int = 0o755) throws(ToolError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: mode])
        } catch {
            throw ToolError("cannot create the directory \(path): \(error.localizedDescription)")
        }
    }
}
