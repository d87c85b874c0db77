/// The host mail leaves through: `--relay HOST[:PORT]` or Postfix's `relayhost`
/// (`[host]:port` means that host; a name without brackets is looked up as MX first, as Postfix
/// does; `[2001:db8::1]` and `192.0.2.1` are addresses).
public struct RelayHost: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int?
    /// Postfix's reading of a name without brackets: deliver to its MX hosts.
    public var looksUpMX: Bool

    public init(host: String, port: Int? = nil, looksUpMX: Bool = false) {
        self.host = host
        self.port = port
        self.looksUpMX = looksUpMX
    }

    public var description: String { host + (port.map { ":\($0)" } ?? "") }

    /// The host as an address, when it is one.
    public var address: IPAddress? { IPAddress(host) }

    /// Reads `HOST`, `HOST:PORT`, `[HOST]`, `[HOST]:PORT` or an IPv6 address in brackets.
    /// `postfix` gives brackets their Postfix meaning (no MX lookup); without it a name is a host.
    public init?(parsing text: String, postfix: Bool = false) {
        var rest = Substring(text.trimmingSpaces)
        guard !rest.isEmpty else { return nil }
        var bracketed = false
        var host: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = rest[rest.index(after: rest.startIndex)..<close]
            rest = rest[rest.index(after: close)...]
            bracketed = true
        } else if IPAddress(String(rest))?.isIPv6 == true {
            host = rest
            rest = ""
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            rest = rest[colon...]
        } else {
            host = rest
            rest = ""
        }
        var port: Int?
        if !rest.isEmpty {
            guard rest.hasPrefix(":"), let p = Int(rest.dropFirst()), (1...65535).contains(p) else { return nil }
            port = p
        }
        var name = host.lowercased()
        while name.hasSuffix(".") { name.removeLast() }
        guard !name.isEmpty, !name.contains(" "), !name.contains("/") else { return nil }
        self.host = name
        self.port = port
        self.looksUpMX = postfix && !bracketed && IPAddress(name) == nil
    }

    /// Every host of a Postfix `relayhost` value (a list separated by commas or spaces in
    /// Postfix 3.5 and later); an empty value means direct delivery (no relay).
    public static func postfixList(_ value: String) -> [RelayHost] {
        value.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" || $0 == "\n" })
            .compactMap { RelayHost(parsing: String($0), postfix: true) }
    }
}
