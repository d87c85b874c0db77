import Foundation

/// Reads a text file (also a device such as /dev/null); nil when it cannot be opened or read.
enum TextFile {
    static func read(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        do {
            return String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        } catch {
            return nil
        }
    }
}
