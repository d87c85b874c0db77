import Foundation

/// Paths to the project's test fixtures and built products, found from this file's location
/// (SwiftPM resources cannot leave a target's folder).
public enum Fixtures {
    /// The repository's root folder.
    public static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// `Tests/Fixtures`.
    public static let root = repositoryRoot + "/Tests/Fixtures"

    /// The copy of the shared DKIM conformance corpus, `Tests/Fixtures/corpus`.
    public static let corpus = root + "/corpus"

    /// Reads a fixture file, relative to `Tests/Fixtures` unless absolute.
    public static func bytes(_ path: String) throws -> [UInt8] {
        let full = path.hasPrefix("/") ? path : root + "/" + path
        return Array(try Data(contentsOf: URL(fileURLWithPath: full)))
    }

    /// Reads a fixture file as text.
    public static func text(_ path: String) throws -> String {
        String(decoding: try bytes(path), as: UTF8.self)
    }

    /// The folder holding the built executables (`.build/debug` or the like).
    public static let productsDirectory: String = {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path,
            Bundle.main.bundleURL.path,
            repositoryRoot + "/.build/debug",
        ]
        for c in candidates where FileManager.default.isExecutableFile(atPath: c + "/dkimkey") { return c }
        // Inside an .xctest bundle folder, the products are one level up.
        for c in candidates {
            let parent = URL(fileURLWithPath: c).deletingLastPathComponent().path
            if FileManager.default.isExecutableFile(atPath: parent + "/dkimkey") { return parent }
        }
        return repositoryRoot + "/.build/debug"
    }()

    /// The built `dkimkey` executable.
    public static var dkimkey: String { productsDirectory + "/dkimkey" }

    /// A new empty temporary folder, removed by the caller with `removeTemporaryDirectory`.
    public static func makeTemporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "dkim-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    public static func removeTemporaryDirectory(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Splitting input into chunks, to prove streaming code gives the same result for any chunking.
public enum Chunking {
    /// The bytes in pieces of `size` (the last may be shorter).
    public static func split(_ bytes: [UInt8], size: Int) -> [[UInt8]] {
        stride(from: 0, to: bytes.count, by: max(1, size)).map { Array(bytes[$0..<min($0 + size, bytes.count)]) }
    }

    /// The chunk sizes every streaming test runs with, besides the whole input.
    public static let smallSizes = Array(1...7)
}
