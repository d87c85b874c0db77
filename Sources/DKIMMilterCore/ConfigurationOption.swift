import DKIM
import Foundation

/// One option of the configuration file: the single source of truth for its name, how its
/// value is read, the line that documents it, and whether it is honoured or ignored (and why).
/// The file parser, `--check-config`, `--list-options`, contrib/MIGRATING.md and the example
/// configuration are all checked against `ConfigurationOption.all`.
public struct ConfigurationOption: Sendable {
    public enum Status: Sendable, Equatable {
        /// Read and applied.
        case honoured
        /// An OpenDKIM option that does not apply here: accepted with a one-line warning.
        case ignored(why: String)
    }

    /// The name as opendkim.conf(5) writes it; matched without regard to case.
    public let name: String
    /// What it does, in one line.
    public let doc: String
    public let status: Status
    /// Parses the value into the configuration (nil for ignored options).
    let apply: (@Sendable (inout MilterConfiguration, OptionValue) throws -> Void)?

    init(_ name: String, _ doc: String,
         _ apply: @escaping @Sendable (inout MilterConfiguration, OptionValue) throws -> Void) {
        self.name = name
        self.doc = doc
        self.status = .honoured
        self.apply = apply
    }

    init(ignored name: String, why: String) {
        self.name = name
        self.doc = why
        self.status = .ignored(why: why)
        self.apply = nil
    }

    /// The option of that name, if there is one.
    public static func named(_ name: String) -> ConfigurationOption? {
        byName[name.lowercased()]
    }

    private static let byName: [String: ConfigurationOption] = {
        var out: [String: ConfigurationOption] = [:]
        for o in all { out[o.name.lowercased()] = o }
        return out
    }()

    /// The lists for contrib/MIGRATING.md (checked by a test, printed by `--list-options markdown`).
    public static func markdown() -> String {
        let honoured = all.filter { $0.status == .honoured }
        let ignored = all.filter { $0.status != .honoured }
        var out = "### Read and honoured\n\n"
        out += honoured.map { "- `\($0.name)`: \($0.doc)" }.joined(separator: "\n")
        out += "\n\n### Accepted but not applied (a one-line warning at start says why)\n\n"
        out += ignored.map { "- `\($0.name)`: \($0.doc)" }.joined(separator: "\n")
        return out + "\n"
    }

    /// One line per option for people: name, honoured or ignored, what it does.
    public static func text() -> String {
        let width = all.map(\.name.count).max() ?? 0
        return all.map { o in
            let pad = String(repeating: " ", count: width - o.name.count)
            return "\(o.name)\(pad)  \(o.status == .honoured ? "         " : "ignored: ")\(o.doc)"
        }.joined(separator: "\n")
    }
}

/// An option's value as written, with the readers the table uses.
struct OptionValue {
    let text: String
    /// The configuration file's directory, for relative paths.
    let base: String

    func bool() throws(ConfigurationError) -> Bool {
        switch text.lowercased() {
        case "yes", "true", "1", "on": return true
        case "no", "false", "0", "off": return false
        default: throw ConfigurationError("\"\(text)\" is not yes or no")
        }
    }

    func int(_ range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let n = Int(text), range.contains(n) else {
            throw ConfigurationError(
                "\"\(text)\" is not a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    func path() throws(ConfigurationError) -> String {
        guard !text.isEmpty else { throw ConfigurationError("needs a file path") }
        var v = text
        for prefix in ["file:", "refile:"] where v.hasPrefix(prefix) { v = String(v.dropFirst(prefix.count)) }
        return v.hasPrefix("/") || base.isEmpty ? v : base + "/" + v
    }

    /// Whether the value names a file of entries rather than an inline list.
    var isFile: Bool { ["file:", "refile:", "/", "./"].contains { text.hasPrefix($0) } }

    /// An inline list (comma or space separated, `csl:` allowed) or a file of one entry per line.
    func list() throws(ConfigurationError) -> [String] {
        var v = text
        if v.hasPrefix("csl:") {
            v = String(v.dropFirst(4))
        } else if isFile {
            let file = try path()
            guard let content = TextFile.read(file) else { throw ConfigurationError("cannot read the file \(file)") }
            return TableLines.entries(content).map(\.text)
        }
        return v.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }).map(String.init)
    }

    func action() throws(ConfigurationError) -> ResultAction {
        guard let a = ResultAction(rawValue: text.lowercased()) else {
            throw ConfigurationError("\"\(text)\" is not one of accept, discard, reject, tempfail, quarantine")
        }
        return a
    }
}
