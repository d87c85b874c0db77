import DKIMTestSupport
import Foundation
import Testing

/// Runs the built `dkimkey` and helps read what it wrote. Everything here works on the
/// command's bytes only (no DKIM library calls), so the tests check the program as a user sees it.
enum CLI {
    /// Runs `dkimkey` with a time limit well above what any command here needs.
    static func run(_ arguments: [String], input: [UInt8] = [], timeout: TimeInterval = 60,
                    in directory: String? = nil) throws -> ProcessRunner.Result {
        try ProcessRunner.run(Fixtures.dkimkey, arguments, input: input, currentDirectory: directory, timeout: timeout)
    }

    /// A corpus file's path.
    static func corpus(_ relative: String) -> String { Fixtures.corpus + "/" + relative }

    /// The corpus key records (`keys.txt`), usable as `verify --records`.
    static var corpusRecords: String { corpus("keys.txt") }

    /// Runs `body` with a new temporary folder, removed afterwards.
    static func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
        let directory = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(directory) }
        return try body(directory)
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    static func write(_ text: String, to path: String) throws {
        try write(Array(text.utf8), to: path)
    }

    static func read(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

// MARK: - Outcome checks

extension ProcessRunner.Result {
    /// The program ended by itself (no signal, no Swift runtime trap, no time-out).
    var endedNormally: Bool {
        !timedOut && status < 128 && !stderr.contains("Fatal error") && !stderr.contains("Stack dump")
    }

    /// One-line summary for failure messages.
    var summary: String {
        "status \(status)\(timedOut ? " (timed out)" : ""); stderr: \(stderr.prefix(600)); stdout: \(stdoutText.prefix(600))"
    }

    /// The JSON objects of `verify --json`, one per output line.
    func jsonLines() throws -> [[String: Any]] {
        try stdoutText.split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
            return try #require(object as? [String: Any], "not a JSON object: \(line)")
        }
    }
}

/// Checks an invocation on bad input failed cleanly: exit 1 or 2 (a signal or trap shows as a
/// signal number or ≥128 through `Process`), no runtime crash text, no time-out.
func expectCleanFailure(_ result: ProcessRunner.Result, allowed: Set<Int32> = [1, 2],
                        sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.endedNormally, "crashed or hung: \(result.summary)", sourceLocation: sourceLocation)
    #expect(allowed.contains(result.status), "unexpected exit: \(result.summary)", sourceLocation: sourceLocation)
}

/// A string value of a decoded JSON object, or "" when absent.
func string(_ object: [String: Any]?, _ key: String) -> String {
    object?[key] as? String ?? ""
}

// MARK: - Signed output

/// The DKIM-Signature field `sign` put on top of a message, split off from the rest.
struct SignedOutput {
    /// The new field, with its final line break.
    var field: [UInt8]
    /// Everything after it (must be the input, unchanged).
    var rest: [UInt8]

    /// Splits `output` after the first header field (its first line break not followed by SP/HTAB).
    init(_ output: [UInt8]) throws {
        var i = 0
        while i < output.count {
            if output[i] == 0x0A, i + 1 < output.count, output[i + 1] != 0x20, output[i + 1] != 0x09 { break }
            i += 1
        }
        try #require(i < output.count, "no end to the first header field")
        field = Array(output[...i])
        rest = Array(output[(i + 1)...])
    }

    var fieldText: String { String(decoding: field, as: UTF8.self) }

    /// The lines of the field, without their line breaks.
    var lines: [String] {
        var text = fieldText
        if text.hasSuffix("\r\n") { text.removeLast(2) } else if text.hasSuffix("\n") { text.removeLast() }
        return text.components(separatedBy: text.contains("\r\n") ? "\r\n" : "\n")
    }

    /// The tags in order, names and values with all folding whitespace removed.
    var tags: [(name: String, value: String)] {
        let unfolded = fieldText.replacingOccurrences(of: "\r", with: "").replacingOccurrences(of: "\n", with: "")
        guard let colon = unfolded.firstIndex(of: ":") else { return [] }
        return unfolded[unfolded.index(after: colon)...].split(separator: ";").compactMap { part in
            let compact = part.filter { $0 != " " && $0 != "\t" }
            guard let eq = compact.firstIndex(of: "=") else { return nil }
            return (String(compact[..<eq]), String(compact[compact.index(after: eq)...]))
        }
    }

    func tag(_ name: String) -> String? { tags.first { $0.name == name }?.value }
}

// MARK: - Generated keys, made once for the suites that sign

/// A key made by `dkimkey generate`, with the record it printed.
struct GeneratedKey: Sendable, CustomStringConvertible {
    var type: String
    var selector: String
    var domain: String
    var pemPath: String
    var txtPath: String
    /// The one-line record from stdout (`v=DKIM1; k=...; p=...`).
    var record: String
    /// `SELECTOR._domainkey.DOMAIN<TAB>RECORD`
    var recordsLine: String { "\(selector)._domainkey.\(domain)\t\(record)" }
    var description: String { type }
}

/// One RSA (2048) and one Ed25519 key in a temporary key store, plus a records file for both.
struct GeneratedKeys: Sendable {
    var directory: String
    var rsa: GeneratedKey
    var ed25519: GeneratedKey
    var recordsFile: String

    func key(_ type: String) -> GeneratedKey { type == "ed25519" ? ed25519 : rsa }

    @TaskLocal static var current: GeneratedKeys?

    /// The keys of the enclosing `.generatedKeys` suite.
    static func shared() throws -> GeneratedKeys {
        try #require(current, "the suite needs the .generatedKeys trait")
    }

    /// Runs `dkimkey generate` for one key and reads the record from its output.
    static func generate(type: String, selector: String, domain: String, in directory: String,
                         extra: [String] = []) throws -> (GeneratedKey, ProcessRunner.Result) {
        let keysDir = directory + "/keys"
        let result = try CLI.run(["generate", selector, "--domain", domain, "--type", type, "--keys-dir", keysDir] + extra)
        try #require(result.status == 0, "generate failed: \(result.summary)")
        let record = try #require(result.stdoutText.split(separator: "\n").first { $0.hasPrefix("v=DKIM1;") },
                                  "no one-line record in: \(result.stdoutText)")
        let base = keysDir + "/" + domain.lowercased() + "/" + selector
        let key = GeneratedKey(type: type, selector: selector, domain: domain.lowercased(), pemPath: base + ".pem",
                               txtPath: base + ".txt", record: String(record))
        return (key, result)
    }

    static func make(in directory: String) throws -> GeneratedKeys {
        let (rsa, _) = try generate(type: "rsa", selector: "cli-rsa", domain: "example.com", in: directory)
        let (ed, _) = try generate(type: "ed25519", selector: "cli-ed", domain: "example.com", in: directory)
        let records = directory + "/records.txt"
        try CLI.write("# made by dkimkey generate\n" + rsa.recordsLine + "\n" + ed.recordsLine + "\n", to: records)
        return GeneratedKeys(directory: directory, rsa: rsa, ed25519: ed, recordsFile: records)
    }
}

/// Generates the shared keys once before a suite runs and removes them after it.
struct GeneratedKeysTrait: SuiteTrait, TestScoping {
    func provideScope(for test: Test, testCase: Test.Case?,
                      performing function: @Sendable () async throws -> Void) async throws {
        let directory = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(directory) }
        let keys = try GeneratedKeys.make(in: directory)
        try await GeneratedKeys.$current.withValue(keys) { try await function() }
    }
}

extension Trait where Self == GeneratedKeysTrait {
    /// Keys made once by `dkimkey generate`, for the whole suite (`GeneratedKeys.shared()`).
    static var generatedKeys: Self { Self() }
}

// MARK: - Message helpers

enum MessageBytes {
    /// The bytes with every CRLF written as LF.
    static func toLF(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0x0D, i + 1 < bytes.count, bytes[i + 1] == 0x0A { i += 1; continue }
            out.append(bytes[i])
            i += 1
        }
        return out
    }

    /// The header section's fields (unfolded names only), to count instances.
    static func headerNames(_ bytes: [UInt8]) -> [String] {
        let text = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
        let header = text.components(separatedBy: "\n\n").first ?? text
        return header.split(separator: "\n").compactMap { line in
            guard let first = line.first, first != " ", first != "\t", let colon = line.firstIndex(of: ":") else { return nil }
            return line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        }
    }

    static func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
        let n = Array(needle.utf8)
        guard !n.isEmpty, haystack.count >= n.count else { return false }
        for start in 0...(haystack.count - n.count) where haystack[start] == n[0] {
            if Array(haystack[start..<(start + n.count)]) == n { return true }
        }
        return false
    }
}
