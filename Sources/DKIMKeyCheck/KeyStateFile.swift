import DKIM
import Foundation
import Glibc

/// `KEYS/DOMAIN/keys.state`: the life of each key of a domain, plain text, one line per selector,
/// safe to edit by hand, written atomically (a crash leaves the old file or the new one, never a
/// mix), read by `dkimkey rotate` and by dkim-milter (at start, on its key check schedule, on
/// SIGUSR1).
///
///     # dkim-milter key states for example.com (dkimkey rotate); times are UTC
///     s202612 active since=2026-12-01T03:00:00Z created=2026-11-24T03:00:00Z
///     s202606 retiring since=2026-12-01T03:00:00Z until=2026-12-08T03:00:00Z created=2026-06-01T03:00:00Z
public struct KeyStateFile: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var selector: String
        public var state: KeyLifecycle
        /// When it entered this state.
        public var since: Int
        /// retiring: when it is revoked; revoked: when its record is deleted.
        public var until: Int?
        /// When the key was made.
        public var created: Int?

        public init(selector: String, state: KeyLifecycle, since: Int, until: Int? = nil, created: Int? = nil) {
            self.selector = selector
            self.state = state
            self.since = since
            self.until = until
            self.created = created
        }
    }

    public static let fileName = "keys.state"

    public var domain: String
    public var entries: [Entry]

    public init(domain: String, entries: [Entry] = []) {
        self.domain = domain
        self.entries = entries
    }

    /// The entry of a selector.
    public subscript(selector: String) -> Entry? {
        get { entries.first { $0.selector == selector } }
        set {
            entries.removeAll { $0.selector == selector }
            if let newValue { entries.append(newValue) }
        }
    }

    /// Parses the file's text; errors name the file, the line and what is wrong.
    public init(parsing text: String, domain: String, path: String) throws(KeyStateError) {
        self.init(domain: domain)
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard !words.isEmpty else { continue }
            let at = "\(path):\(n + 1)"
            guard words.count >= 3, let state = KeyLifecycle(rawValue: words[1]) else {
                throw KeyStateError("\(at): expected \"SELECTOR STATE since=TIME …\" with STATE one of "
                    + KeyLifecycle.allCases.map(\.rawValue).joined(separator: ", ") + ", found \"\(raw)\"")
            }
            guard TagValueSyntax.isSelector(words[0].utf8) else {
                throw KeyStateError("\(at): \"\(words[0])\" is not a selector")
            }
            var fields: [String: Int] = [:]
            for w in words.dropFirst(2) {
                let kv = w.split(separator: "=", maxSplits: 1).map(String.init)
                guard kv.count == 2, ["since", "until", "created"].contains(kv[0]), let t = Self.time(kv[1]) else {
                    throw KeyStateError("\(at): \"\(w)\" is not since=, until= or created= with a time such as "
                        + "2026-12-01T03:00:00Z")
                }
                fields[kv[0]] = t
            }
            guard let since = fields["since"] else { throw KeyStateError("\(at): since= is missing") }
            guard self[words[0]] == nil else { throw KeyStateError("\(at): \(words[0]) is listed twice") }
            entries.append(Entry(selector: words[0], state: state, since: since, until: fields["until"],
                                 created: fields["created"]))
        }
    }

    /// The file's text.
    public var text: String {
        var lines = ["# dkim-milter key states for \(domain), written by dkimkey rotate and read by dkim-milter.",
                     "# One line per selector: SELECTOR STATE since=… [until=…] [created=…]; times are UTC.",
                     "# States: pending (not yet signing), active, retiring (published, not signing),",
                     "# revoked (record to be revoked, then deleted). Safe to edit; dkim-milter rereads it."]
        for e in entries {
            var line = "\(e.selector) \(e.state.rawValue) since=\(Self.text(e.since))"
            if let u = e.until { line += " until=\(Self.text(u))" }
            if let c = e.created { line += " created=\(Self.text(c))" }
            lines.append(line)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The state file of a domain directory, or nil when there is none.
    public static func read(directory: String, domain: String) throws(KeyStateError) -> KeyStateFile? {
        let path = directory + "/" + fileName
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KeyStateError("\(path): cannot be read; check its owner and mode")
        }
        return try KeyStateFile(parsing: String(decoding: data, as: UTF8.self), domain: domain, path: path)
    }

    /// Writes the file atomically: a new file beside it, flushed to disk, renamed over the old one,
    /// and the directory flushed, so that a crash at any moment leaves the old or the new state.
    public func write(directory: String) throws(KeyStateError) {
        let path = directory + "/" + Self.fileName
        let temporary = directory + "/.\(Self.fileName).\(getpid()).tmp"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw KeyStateError("cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else {
                close(fd)
                unlink(temporary)
                throw KeyStateError("cannot write \(temporary): \(String(cString: strerror(errno)))")
            }
            written += n
        }
        guard fsync(fd) == 0, close(fd) == 0, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw KeyStateError("cannot replace \(path): \(String(cString: strerror(errno)))")
        }
        let dir = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 { fsync(dir); close(dir) }
    }

    // MARK: Times (UTC, 2026-12-01T03:00:00Z)

    public static func text(_ time: Int) -> String {
        var t = tm()
        var seconds = time
        gmtime_r(&seconds, &t)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                      t.tm_hour, t.tm_min, t.tm_sec)
    }

    public static func time(_ text: String) -> Int? {
        let parts = text.split(whereSeparator: { "-T:Z".contains($0) }).compactMap { Int($0) }
        guard parts.count == 6, text.hasSuffix("Z") else { return nil }
        var t = tm()
        t.tm_year = Int32(parts[0] - 1900)
        t.tm_mon = Int32(parts[1] - 1)
        t.tm_mday = Int32(parts[2])
        t.tm_hour = Int32(parts[3])
        t.tm_min = Int32(parts[4])
        t.tm_sec = Int32(parts[5])
        let value = timegm(&t)
        return value >= 0 ? value : nil
    }
}

/// A state file that cannot be read or written, with the file, the line and the fix.
public struct KeyStateError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
