import DKIM
import Foundation

extension MilterConfiguration {
    /// Reads an OpenDKIM-style configuration file (`Name value` lines, `#` comments).
    ///
    /// - Parameter warnings: receives one line for each option accepted but not applied.
    /// - Throws: a `ConfigurationError` naming the file, the line and the option.
    public init(file path: String, warnings: inout [String]) throws(ConfigurationError) {
        self.init()
        guard let text = TextFile.read(path) else {
            throw ConfigurationError(FileManager.default.fileExists(atPath: path)
                ? "\(path): cannot read the configuration file: check that the milter's user may read it"
                : "\(path): the configuration file does not exist")
        }
        let base = (path as NSString).deletingLastPathComponent
        var lineNumber = 0
        var seen: [String: Int] = [:]
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = String(raw)
            if let hash = line.firstIndex(of: "#") { line = String(line[..<hash]) }
            line = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            let parts = line.split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" })
            let name = String(parts[0])
            let value = parts.count > 1 ? String(parts[1]).trimmingCharacters(in: .whitespaces) : ""
            let key = name.lowercased()
            let at = "\(path):\(lineNumber): \(name)"
            if let first = seen[key] {
                warnings.append("\(at): also set on line \(first); the last value is used")
            }
            seen[key] = lineNumber
            // One table of options (ConfigurationOption.all) decides what each name means.
            guard let option = ConfigurationOption.named(name) else {
                throw ConfigurationError("\(at): unknown option. The options dkim-milter reads are listed by "
                    + "dkim-milter --list-options and in contrib/MIGRATING.md")
            }
            switch option.status {
            case .ignored(let why):
                warnings.append("\(at): ignored: \(why)")
            case .honoured:
                do {
                    try option.apply?(&self, OptionValue(text: value, base: base))
                } catch let error as ConfigurationError {
                    throw ConfigurationError("\(at): \(error.message)")
                } catch {
                    throw ConfigurationError("\(at): \(error)")
                }
            }
        }
    }
}

/// The socket syntax OpenDKIM and libmilter use.
public enum MilterSocketAddress {
    /// Checks `local:/path`, `unix:/path`, `inet:PORT[@HOST]`, `inet6:PORT[@HOST]`, or
    /// `auto` (`MilterConfiguration.automaticSocket`).
    public static func validate(_ spec: String) throws(ConfigurationError) {
        if spec == MilterConfiguration.automaticSocket { return }
        let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else {
            throw ConfigurationError("\"\(spec)\" is not a socket such as local:/run/dkim-milter/dkim-milter.sock "
                + "or inet:8891@127.0.0.1")
        }
        switch parts[0].lowercased() {
        case "local", "unix":
            guard parts[1].hasPrefix("/") else {
                throw ConfigurationError("\"\(spec)\": the socket path must be absolute")
            }
        case "inet", "inet6":
            let port = parts[1].split(separator: "@", maxSplits: 1).first.map(String.init) ?? ""
            guard let p = Int(port), (1...65535).contains(p) else {
                throw ConfigurationError(
                    "\"\(spec)\": the port must be a number from 1 to 65535, as in inet:8891@127.0.0.1")
            }
        default:
            throw ConfigurationError("\"\(spec)\": the socket type must be local, unix, inet or inet6")
        }
    }

    /// Whether the socket is a TCP socket (TCP_NODELAY is set on its connections).
    public static func isTCP(_ spec: String) -> Bool {
        spec.lowercased().hasPrefix("inet")
    }
}
