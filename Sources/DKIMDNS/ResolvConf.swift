import Foundation

/// The settings of resolv.conf(5) that a stub client needs: the name servers, seconds per try,
/// tries, and whether to rotate among the servers. Read the way glibc reads them: at most three
/// servers, 127.0.0.1 when none is listed, `timeout` capped at 30 and `attempts` at 5.
public struct ResolvConf: Sendable, Equatable {
    /// glibc's MAXNS.
    public static let maximumNameservers = 3

    public var nameservers: [DNSNameserver]
    /// `options timeout:N`, seconds per try (default 5).
    public var timeout = 5
    /// `options attempts:N`, times each server is asked (default 2).
    public var attempts = 2
    /// `options rotate`: start each query at the next server.
    public var rotate = false

    /// Parses the text of a resolv.conf; lines it does not know, and servers it cannot read
    /// (such as a scoped address for an interface that is gone), are skipped.
    public init(parsing text: String) {
        nameservers = []
        for line in text.split(whereSeparator: \.isNewline) {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let keyword = words.first, !keyword.hasPrefix("#"), !keyword.hasPrefix(";") else { continue }
            switch keyword {
            case "nameserver":
                guard words.count >= 2, nameservers.count < Self.maximumNameservers,
                      let server = try? DNSNameserver(host: String(words[1])) else { continue }
                nameservers.append(server)
            case "options":
                for option in words.dropFirst() { apply(option) }
            default:
                continue
            }
        }
        if nameservers.isEmpty, let loopback = try? DNSNameserver(host: "127.0.0.1") {
            nameservers = [loopback]
        }
    }

    private mutating func apply(_ option: Substring) {
        if option == "rotate" {
            rotate = true
        } else if option.hasPrefix("timeout:"), let n = Int(option.dropFirst(8)), n >= 0 {
            timeout = min(max(n, 1), 30)
        } else if option.hasPrefix("attempts:"), let n = Int(option.dropFirst(9)), n >= 0 {
            attempts = min(max(n, 1), 5)
        }
    }

    /// The settings in the file at `path`; the defaults (127.0.0.1, 5 s, 2 tries) when it
    /// cannot be read.
    public static func load(path: String = "/etc/resolv.conf") -> ResolvConf {
        ResolvConf(parsing: (try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
    }
}
