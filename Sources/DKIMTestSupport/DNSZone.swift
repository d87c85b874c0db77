import DKIM
import Foundation

/// A test zone: DNS records and, for the doctor tests, what the zone is meant to show. Written
/// in a small zone-file form, one record or directive a line:
///
///     ; a comment
///     example.test.          TXT   "v=spf1 mx -all"
///     example.test.          MX    10 mail.example.test.
///     mail.example.test.     A     192.0.2.25
///     $doctor example.test --relay smtp.isp.test     (the command line after `dkimkey doctor`)
///     $expect FAIL spf-relay include:isp.test         (a finding: status, check, text it contains)
///     $spf 192.0.2.25 example.test fail              (check_host() of an address, and its result)
///
/// Types: TXT (one or more quoted strings, joined), A, AAAA, MX, CNAME, PTR. The same zone is the
/// in-memory `DNSResolver` of the unit tests and is served by dnsmasq to the command-line tests
/// and to pyspf (`dnsmasqArguments`), so both see the same records.
public struct DNSZone: DNSResolver, Sendable {
    public struct Directive: Sendable, Equatable {
        public var name: String
        public var arguments: [String]
    }

    /// Records by owner name (lower case, no final dot), in the order written.
    public private(set) var records: [String: [DNSRecord]] = [:]
    public private(set) var directives: [Directive] = []
    /// The file's comment lines before the first record: what the zone is about.
    public private(set) var summary: String = ""

    public init() {}

    public init(parsing text: String) throws {
        var summaryLines: [String] = []
        var seenRecord = false
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            if line.hasPrefix(";") {
                if !seenRecord { summaryLines.append(line.dropFirst().trimmingCharacters(in: .whitespaces)) }
                continue
            }
            seenRecord = true
            let words = Self.words(line)
            guard let first = words.first else { continue }
            if first.hasPrefix("$") {
                directives.append(Directive(name: String(first.dropFirst()), arguments: Array(words.dropFirst())))
                continue
            }
            // Zone-file extras: a TTL, the class IN, and parentheses around the data.
            var rest = words.dropFirst().filter { $0 != "(" && $0 != ")" }
            if let ttl = rest.first, ttl.allSatisfy(\.isNumber) { rest.removeFirst() }
            if rest.first?.uppercased() == "IN" { rest.removeFirst() }
            guard rest.count >= 2 else { throw ZoneError(line: n + 1, "a record needs NAME TYPE DATA: \(line)") }
            try add(first, type: rest[0], data: Array(rest.dropFirst()), line: n + 1)
        }
        summary = summaryLines.joined(separator: " ")
    }

    /// Loads a zone file; `including` zones are added first (shared records such as an ISP's).
    public static func load(_ path: String, including: [String] = []) throws -> DNSZone {
        var zone = DNSZone()
        for p in including + [path] {
            let part = try DNSZone(parsing: String(contentsOfFile: p, encoding: .utf8))
            zone.merge(part)
        }
        return zone
    }

    public mutating func merge(_ other: DNSZone) {
        for (name, list) in other.records { records[name, default: []] += list }
        directives += other.directives
        if summary.isEmpty { summary = other.summary }
    }

    public struct ZoneError: Error, CustomStringConvertible {
        public var description: String
        init(line: Int, _ message: String) { description = "line \(line): \(message)" }
    }

    /// Words, with "quoted strings" kept whole (without their quotes; \" and \\ inside).
    static func words(_ line: String) -> [String] {
        var out: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        var inWord = false
        for c in line {
            if quoted {
                if escaped {
                    current.append(c)
                    escaped = false
                } else if c == "\\" {
                    escaped = true
                } else if c == "\"" {
                    quoted = false; out.append(current); current = ""; inWord = false
                } else {
                    current.append(c)
                }
            } else if c == "\"" {
                if inWord { out.append(current); current = "" }
                quoted = true
                inWord = true
            } else if c == " " || c == "\t" {
                if inWord && !current.isEmpty { out.append(current) }
                current = ""
                inWord = false
            } else if c == ";" && !inWord {
                break
            } else {
                current.append(c)
                inWord = true
            }
        }
        if inWord && !current.isEmpty { out.append(current) }
        return out
    }

    static func key(_ name: String) -> String {
        var n = name.lowercased()
        while n.hasSuffix(".") { n.removeLast() }
        return n
    }

    public mutating func add(_ name: String, type: String, data: [String], line: Int = 0) throws {
        let owner = Self.key(name)
        let record: DNSRecord
        func address(_ family: Int32, _ count: Int) throws -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: count)
            guard data.count == 1, inet_pton(family, data[0], &bytes) == 1 else {
                throw ZoneError(line: line, "not an address: \(data.joined(separator: " "))")
            }
            return bytes
        }
        switch type.uppercased() {
        case "TXT": record = .txt(data.joined())
        case "A": record = .a(try address(AF_INET, 4))
        case "AAAA": record = .aaaa(try address(AF_INET6, 16))
        case "MX":
            guard data.count == 2, let preference = UInt16(data[0]) else {
                throw ZoneError(line: line, "MX needs PREFERENCE EXCHANGE")
            }
            record = .mx(preference: preference, exchange: Self.key(data[1]))
        case "CNAME": record = .cname(Self.key(data[0]))
        case "PTR": record = .ptr(Self.key(data[0]))
        default: throw ZoneError(line: line, "unknown type \(type)")
        }
        records[owner, default: []].append(record)
    }

    /// The arguments of every directive of that name.
    public func directives(_ name: String) -> [[String]] {
        directives.filter { $0.name == name }.map(\.arguments)
    }

    // MARK: - As a resolver

    /// Answers from the table: the records of the type (CNAMEs followed, at most 8), NODATA for a
    /// name that exists (or has names under it) without them, NXDOMAIN otherwise.
    public func lookup(_ name: String, type: DNSRecordType) -> DNSLookupResult {
        var owner = Self.key(name)
        for _ in 0..<8 {
            let here = records[owner] ?? []
            let matching = here.filter { $0.type == type }
            if !matching.isEmpty { return .answer(DNSAnswer(records: matching, ttl: 300)) }
            if type != .cname, case .cname(let target)? = here.first(where: { $0.type == .cname }) {
                owner = target
                continue
            }
            let exists = !here.isEmpty || records.keys.contains { $0.hasSuffix("." + owner) }
            return exists ? .noData : .nameNotFound
        }
        return .temporaryFailure(.cnameLoop)
    }

    // MARK: - As dnsmasq's configuration

    /// dnsmasq options that serve these records: TXT as strings of at most 255 bytes, A and AAAA
    /// as raw records (`--dns-rr`, so no PTR is made for them), MX, CNAME and PTR records. Names
    /// under `authoritative` that have no records get NXDOMAIN (`--local`).
    public func dnsmasqArguments(authoritative: [String]) throws -> [String] {
        var out = authoritative.map { "--local=/\($0)/" }
        for name in records.keys.sorted() {
            for record in records[name]! {
                switch record {
                case .txt(let text):
                    let bytes = Array(text.utf8)
                    guard !bytes.contains(UInt8(ascii: ",")) else {
                        throw ZoneError(line: 0, "dnsmasq cannot serve a comma in a TXT record: \(name)")
                    }
                    let strings = stride(from: 0, to: max(bytes.count, 1), by: 255).map {
                        String(decoding: bytes[$0..<min($0 + 255, bytes.count)], as: UTF8.self)
                    }
                    out.append("--txt-record=\(name)," + strings.joined(separator: ","))
                case .a(let b):
                    out.append("--dns-rr=\(name),1," + b.map { String(format: "%02X", $0) }.joined())
                case .aaaa(let b):
                    out.append("--dns-rr=\(name),28," + b.map { String(format: "%02X", $0) }.joined())
                case .mx(let preference, let exchange):
                    out.append("--mx-host=\(name),\(exchange),\(preference)")
                case .cname(let target):
                    out.append("--cname=\(name),\(target)")
                case .ptr(let target):
                    out.append("--ptr-record=\(name),\(target)")
                }
            }
        }
        return out
    }
}
