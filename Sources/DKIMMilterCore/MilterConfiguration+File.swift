import DKIM
import Foundation

extension MilterConfiguration {
    /// Options of OpenDKIM that do not apply here: accepted, with a one-line warning saying why.
    static let ignoredOptions: [String: String] = [
        "autorestart": "run under systemd (Restart=on-failure) instead; dkim-milter does not fork a supervisor",
        "autorestartrate": "run under systemd (Restart=on-failure) instead",
        "autorestartcount": "run under systemd (Restart=on-failure) instead",
        "background": "dkim-milter always runs in the foreground (systemd Type=simple)",
        "trustanchorfile": "DNSSEC validation is not done; keys are looked up with the system resolver",
        "syslogfacility": "dkim-milter logs to the mail facility",
        "logresults": "the one line per message already gives every result",
        "softwareheader": "no software header is added",
        "mode": "",
        "dnsconnect": "not needed with the system resolver",
        "removeoldsignatures": "existing signatures are kept",
        "sendreports": "failure reports are not sent",
        "reportaddress": "failure reports are not sent",
        "x-header": "no software header is added",
        "diagnostics": "reasons are logged with LogWhy",
        "statistics": "statistics are not collected",
        "baseddirectory": "use absolute paths",
        "basedirectory": "use absolute paths",
        "querycache": "a cache is planned; lookups are made per message",
        "minimumkeysizebits": "",
        "adspaction": "ADSP is historic (RFC 6376 obsoleted it)",
        "adsppolicy": "ADSP is historic",
        "fixcrlf": "line endings are handled exactly as sent",
    ]

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
            do {
                try apply(key: key, value: value, base: base, warnings: &warnings, at: at)
            } catch {
                throw ConfigurationError("\(at): \(error.message)")
            }
        }
    }

    private mutating func apply(key: String, value: String, base: String, warnings: inout [String], at: String) throws(ConfigurationError) {
        func bool() throws(ConfigurationError) -> Bool {
            switch value.lowercased() {
            case "yes", "true", "1", "on": return true
            case "no", "false", "0", "off": return false
            default: throw ConfigurationError("\"\(value)\" is not yes or no")
            }
        }
        func int(_ range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
            guard let n = Int(value), range.contains(n) else {
                throw ConfigurationError("\"\(value)\" is not a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return n
        }
        func path() throws(ConfigurationError) -> String {
            guard !value.isEmpty else { throw ConfigurationError("needs a file path") }
            var v = value
            for prefix in ["file:", "refile:"] where v.hasPrefix(prefix) { v = String(v.dropFirst(prefix.count)) }
            return v.hasPrefix("/") || base.isEmpty ? v : base + "/" + v
        }
        func list() throws(ConfigurationError) -> [String] {
            // An inline list (comma or space separated) or a file of one entry per line.
            var v = value
            if v.hasPrefix("csl:") { v = String(v.dropFirst(4)) }
            else if v.hasPrefix("file:") || v.hasPrefix("refile:") || v.hasPrefix("/") || v.hasPrefix("./") {
                let file = try path()
                guard let text = TextFile.read(file) else {
                    throw ConfigurationError("cannot read the file \(file)")
                }
                return TableLines.entries(text).map(\.text)
            }
            return v.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }).map(String.init)
        }
        func action() throws(ConfigurationError) -> ResultAction {
            guard let a = ResultAction(rawValue: value.lowercased()) else {
                throw ConfigurationError("\"\(value)\" is not one of accept, discard, reject, tempfail, quarantine")
            }
            return a
        }

        switch key {
        case "mode":
            let m = value.lowercased()
            guard !m.isEmpty, m.allSatisfy({ $0 == "s" || $0 == "v" }) else {
                throw ConfigurationError("\"\(value)\" is not s, v or sv")
            }
            signs = m.contains("s")
            verifies = m.contains("v")
        case "socket":
            try MilterSocketAddress.validate(value)
            socket = value
        case "domain":
            domains = try list().map { $0.lowercased() }
            if let problem = domains.lazy.compactMap({ SigningKey.domainProblem($0) }).first {
                let isFile = ["file:", "refile:", "/", "./"].contains { value.hasPrefix($0) }
                throw ConfigurationError(problem + (isFile ? " (in \(try path()))" : ""))
            }
        case "selector":
            if let problem = SigningKey.selectorProblem(value) { throw ConfigurationError(problem) }
            selector = value
        case "keyfile": keyFile = try path()
        case "keytable": keyTable = try path()
        case "signingtable":
            signingTableIsPattern = value.hasPrefix("refile:")
            signingTable = try path()
        case "internalhosts": internalHosts = try NetworkList(parsing: list())
        case "externalignorelist": externalIgnoreList = try NetworkList(parsing: list())
        case "mta": signingDaemonNames = try list()
        case "canonicalization":
            guard let c = CanonicalizationPair(tagValue: value.lowercased()) else {
                throw ConfigurationError("\"\(value)\" is not simple or relaxed, or a pair such as relaxed/simple")
            }
            canonicalization = c
        case "signheaders": signHeaders = try list().map { $0.lowercased() }
        case "oversignheaders": oversignHeaders = try list().map { $0.lowercased() }
        case "signaturealgorithm":
            guard let a = SignatureAlgorithm(rawValue: value.lowercased()) else {
                throw ConfigurationError("\"\(value)\" is not rsa-sha256 or ed25519-sha256 (rsa-sha1 is forbidden by RFC 8301)")
            }
            signatureAlgorithm = a
        case "minimumkeybits": minimumKeyBits = try int(1024...16384)
        case "authservid": authservID = value == "HOSTNAME" ? nil : value
        case "alwaysaddarheader": alwaysAddARHeader = try bool()
        case "maximumsignaturestoverify": maximumSignaturesToVerify = try int(1...1000)
        case "on-badsignature": onBadSignature = try action()
        case "on-dnserror": onDNSError = try action()
        case "on-keynotfound": onKeyNotFound = try action()
        case "on-nosignature": onNoSignature = try action()
        case "on-internalerror": onInternalError = try action()
        case "on-signatureerror": onSignatureError = try action()
        case "on-security", "on-default":
            let a = try action()
            if key == "on-default" {
                onBadSignature = a; onDNSError = a; onKeyNotFound = a; onNoSignature = a; onSignatureError = a
            }
        case "testpublickeys": testPublicKeys = try path()
        case "nameservers": nameservers = try list()
        case "dnstimeout": dnsTimeout = try int(1...300)
        case "dnsdeadline": dnsDeadline = Double(try int(1...250))
        case "userid": userID = value
        case "umask":
            guard let m = Int(value, radix: 8), (0...0o777).contains(m) else {
                throw ConfigurationError("\"\(value)\" is not an octal mask such as 007")
            }
            umask = m
        case "pidfile": pidFile = try path()
        case "syslog": syslog = try bool()
        case "syslogsuccess": syslogSuccess = try bool()
        case "logwhy": logWhy = try bool()
        case "requiresafekeys": requireSafeKeys = try bool()
        case "subdomains": subDomains = try bool()
        case "multiplesignatures": multipleSignatures = try bool()
        case "keysdirectory": keysDirectory = try path()
        default:
            if let why = Self.ignoredOptions[key], !why.isEmpty {
                warnings.append("\(at): ignored: \(why)")
            } else {
                throw ConfigurationError("unknown option. Options of opendkim.conf that dkim-milter reads are listed in contrib/MIGRATING.md")
            }
        }
    }
}

/// The socket syntax OpenDKIM and libmilter use.
public enum MilterSocketAddress {
    /// Checks `local:/path`, `unix:/path`, `inet:PORT[@HOST]`, `inet6:PORT[@HOST]`.
    public static func validate(_ spec: String) throws(ConfigurationError) {
        let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else {
            throw ConfigurationError("\"\(spec)\" is not a socket such as local:/run/dkim-milter/dkim-milter.sock or inet:8891@127.0.0.1")
        }
        switch parts[0].lowercased() {
        case "local", "unix":
            guard parts[1].hasPrefix("/") else { throw ConfigurationError("\"\(spec)\": the socket path must be absolute") }
        case "inet", "inet6":
            let port = parts[1].split(separator: "@", maxSplits: 1).first.map(String.init) ?? ""
            guard let p = Int(port), (1...65535).contains(p) else {
                throw ConfigurationError("\"\(spec)\": the port must be a number from 1 to 65535, as in inet:8891@127.0.0.1")
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
