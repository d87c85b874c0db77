import Foundation
import Glibc

/// A small authoritative DNS server on 127.0.0.1 (or ::1) for tests, UDP on a port of its own
/// and, when asked, TCP on the same port: answers TXT, A, AAAA and MX queries from a table,
/// follows CNAMEs, can answer NXDOMAIN, SERVFAIL, garbage or nothing at all, send forged
/// answers before the real one, and counts the queries it gets.
public final class FakeDNSServer: @unchecked Sendable {
    public enum Answer: Sendable {
        /// One TXT record per element, each given as its character-strings.
        case txt([[String]], ttl: UInt32 = 300)
        /// A records (dotted IPv4 addresses).
        case a([String], ttl: UInt32 = 300)
        /// AAAA records (IPv6 addresses in any form inet_pton reads).
        case aaaa([String], ttl: UInt32 = 300)
        /// MX records.
        case mx([(preference: UInt16, exchange: String)], ttl: UInt32 = 300)
        /// A CNAME to another name of the table.
        case cname(String, ttl: UInt32 = 300)
        case nxdomain
        /// The name exists but has no record of the type asked for. (A name whose answer is of
        /// another type than the query's also gets this.)
        case noData
        case servfail
        /// No answer at all (the client times out).
        case silent
        /// A reply with the query's id that claims an answer but is cut short (malformed).
        case garbage
        /// An empty reply with the TC (truncated) bit set, over UDP and TCP alike: the client
        /// should retry over TCP, and gets nothing whole there either.
        case truncated
        /// Over UDP an empty reply with the TC bit; over TCP (when the server listens on TCP)
        /// the answer.
        indirect case tcpOnly(Answer)
        /// Before the TXT answer, three forged replies: one with another id, one from another
        /// port of this host, one for another question; each carries the record "forged".
        case decoys([[String]])
        /// FORMERR to a query with an EDNS0 OPT record, the answer to one without.
        indirect case formErrorToEDNS(Answer)
    }

    public let port: Int
    private let fd: Int32
    private let decoyFD: Int32
    private let tcpFD: Int32?
    private let ipv6: Bool
    private let lock = NSLock()
    private var table: [String: Answer]
    private var counts: [String: Int] = [:]
    private var tcpCounts: [String: Int] = [:]
    private var lastQueries: [String: [UInt8]] = [:]
    private var running = true
    private var refresh: (@Sendable () -> Void)?

    /// - Parameters:
    ///   - tcp: also listen on TCP, the same port (RFC 7766).
    ///   - ipv6: listen on ::1 instead of 127.0.0.1.
    public init(_ table: [String: Answer], tcp: Bool = false, ipv6: Bool = false) throws {
        var sockets: (udp: Int32, port: Int, tcp: Int32?)?
        for _ in 0..<20 where sockets == nil {
            guard let (udp, port) = LoopbackSocket.bound(.udp, port: 0, ipv6: ipv6) else { break }
            guard tcp else { sockets = (udp, port, nil); break }
            if let (stream, _) = LoopbackSocket.bound(.tcp, port: port, ipv6: ipv6), listen(stream, 64) == 0 {
                sockets = (udp, port, stream)
            } else {
                close(udp)
            }
        }
        guard let sockets, let (decoy, _) = LoopbackSocket.bound(.udp, port: 0, ipv6: ipv6) else {
            throw NSError(domain: "FakeDNSServer", code: Int(errno))
        }
        var tv = timeval(tv_sec: 0, tv_usec: 100_000)
        for s in [sockets.udp, sockets.tcp].compactMap({ $0 }) {
            setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
        self.table = Dictionary(uniqueKeysWithValues: table.map { ($0.key.lowercased(), $0.value) })
        self.fd = sockets.udp
        self.port = sockets.port
        self.tcpFD = sockets.tcp
        self.decoyFD = decoy
        self.ipv6 = ipv6
        let box = WeakBox()
        box.server = self
        Thread { box.server?.serve() }.start()
        if tcp { Thread { box.server?.serveTCP() }.start() }
    }

    private final class WeakBox: @unchecked Sendable { weak var server: FakeDNSServer? }

    /// `127.0.0.1:PORT` (or `[::1]:PORT`), for `--nameserver` and `Nameservers`.
    public var address: String { ipv6 ? "[::1]:\(port)" : "127.0.0.1:\(port)" }

    /// Queries received for a name (any type, UDP and TCP), and in all.
    public func queries(for name: String) -> Int {
        lock.lock(); defer { lock.unlock() }
        return counts[name.lowercased()] ?? 0
    }
    public var totalQueries: Int { lock.lock(); defer { lock.unlock() }; return counts.values.reduce(0, +) }

    /// Queries received over TCP for a name.
    public func tcpQueries(for name: String) -> Int {
        lock.lock(); defer { lock.unlock() }
        return tcpCounts[name.lowercased()] ?? 0
    }

    /// The last query message received for a name, as sent.
    public func lastQuery(for name: String) -> [UInt8]? {
        lock.lock(); defer { lock.unlock() }
        return lastQueries[name.lowercased()]
    }

    public func set(_ name: String, _ answer: Answer) { lock.lock(); table[name.lowercased()] = answer; lock.unlock() }

    /// `body` runs before each query is answered (it may call `set`): a table kept elsewhere is
    /// then never behind what the test changed there, however loaded the machine.
    public func beforeEachAnswer(_ body: @escaping @Sendable () -> Void) {
        lock.lock(); refresh = body; lock.unlock()
    }

    /// Stops answering (the sockets stay bound, so clients time out rather than get a refusal).
    public func stop() { lock.lock(); running = false; lock.unlock() }

    private var isRunning: Bool { lock.lock(); defer { lock.unlock() }; return running }

    deinit {
        stop()
        close(fd)
        close(decoyFD)
        if let tcpFD { close(tcpFD) }
    }

    private func serve() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while isRunning {
            var from = sockaddr_storage()
            var fromLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let n = withUnsafeMutablePointer(to: &from) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    recvfrom(fd, &buffer, buffer.count, 0, $0, &fromLength)
                }
            }
            guard n >= 12, isRunning else { continue }
            for (reply, fromDecoyPort) in respond(to: Array(buffer[0..<n]), overTCP: false) {
                _ = withUnsafePointer(to: &from) { p in
                    p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fromDecoyPort ? decoyFD : fd, reply, reply.count, 0, $0, fromLength)
                    }
                }
            }
        }
    }

    /// One connection at a time: each message after its 2-byte length, answered the same way.
    private func serveTCP() {
        guard let tcpFD else { return }
        while isRunning {
            let connection = accept(tcpFD, nil, nil)
            guard connection >= 0 else { continue }
            var tv = timeval(tv_sec: 1, tv_usec: 0)
            setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            while isRunning, let prefix = Self.read(connection, 2) {
                let length = Int(prefix[0]) << 8 | Int(prefix[1])
                guard let query = Self.read(connection, length), query.count >= 12 else { break }
                for (reply, fromDecoyPort) in respond(to: query, overTCP: true) where !fromDecoyPort {
                    let framed = [UInt8(reply.count >> 8), UInt8(reply.count & 0xFF)] + reply
                    _ = send(connection, framed, framed.count, Int32(MSG_NOSIGNAL))
                }
            }
            close(connection)
        }
    }

    private static func read(_ connection: Int32, _ count: Int) -> [UInt8]? {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: max(count, 1))
        while out.count < count {
            let n = recv(connection, &chunk, count - out.count, 0)
            guard n > 0 else { return nil }
            out += chunk[0..<n]
        }
        return out
    }

    static func encodeName(_ name: String) -> [UInt8] {
        var out: [UInt8] = []
        for label in name.split(separator: ".") { out.append(UInt8(label.utf8.count)); out += Array(label.utf8) }
        return out + [0]
    }

    private typealias Record = (owner: [UInt8], type: UInt16, ttl: UInt32, data: [UInt8])

    /// The replies to one query, each with whether it goes out from the decoy port.
    private func respond(to query: [UInt8], overTCP: Bool) -> [(reply: [UInt8], fromDecoyPort: Bool)] {
        lock.lock(); let refresh = self.refresh; lock.unlock()
        refresh?()
        var offset = 12
        var labels: [String] = []
        while offset < query.count, query[offset] != 0 {
            let n = Int(query[offset])
            guard offset + 1 + n <= query.count else { return [] }
            labels.append(String(decoding: query[(offset + 1)..<(offset + 1 + n)], as: UTF8.self))
            offset += 1 + n
        }
        offset += 1
        guard offset + 4 <= query.count else { return [] }
        let questionEnd = offset + 4
        let type = UInt16(query[offset]) << 8 | UInt16(query[offset + 1])
        let hasEDNS = query[11] != 0 || query[10] != 0
        let name = labels.joined(separator: ".").lowercased()
        lock.lock()
        counts[name, default: 0] += 1
        if overTCP { tcpCounts[name, default: 0] += 1 }
        lastQueries[name] = query
        var answer = table[name] ?? .nxdomain
        lock.unlock()

        let question = Array(query[12..<questionEnd])
        func reply(id: (UInt8, UInt8) = (query[0], query[1]), flags: UInt8 = 0x84, rcode: UInt8 = 0,
                   question: [UInt8] = question, records: [Record] = []) -> [UInt8] {
            var out: [UInt8] = [id.0, id.1, flags | (query[2] & 0x01), 0x80 | rcode, 0, 1,
                                UInt8(records.count >> 8), UInt8(records.count & 0xFF), 0, 0, 0, 0]
            out += question
            for r in records {
                out += r.owner
                out += [UInt8(r.type >> 8), UInt8(r.type & 0xFF), 0, 1]
                out += [UInt8(r.ttl >> 24), UInt8((r.ttl >> 16) & 0xFF), UInt8((r.ttl >> 8) & 0xFF),
                        UInt8(r.ttl & 0xFF)]
                out += [UInt8(r.data.count >> 8), UInt8(r.data.count & 0xFF)]
                out += r.data
            }
            return out
        }
        func txt(_ list: [[String]], owner: [UInt8], ttl: UInt32) -> [Record] {
            list.map { strings in
                var data: [UInt8] = []
                for s in strings { let b = Array(s.utf8); data.append(UInt8(b.count)); data += b }
                return (owner, 16, ttl, data)
            }
        }

        var rcode: UInt8 = 0
        var records: [Record] = []
        var owner: [UInt8] = [0xC0, 0x0C]
        var hops = 0
        resolve: while true {
            switch answer {
            case .silent: return []
            case .garbage:
                return [([query[0], query[1], 0x84 | (query[2] & 0x01), 0x80, 0, 1, 0, 3, 0, 0, 0, 0] + question
                         + [0xC0, 0x0C, 0, 16, 0, 1, 0, 0, 1, 0, 0x01, 0x00, 5, 65, 66], false)]
            case .servfail: rcode = 2; break resolve
            case .truncated: return [(reply(flags: 0x86), false)]
            case .tcpOnly(let inner):
                guard overTCP else { return [(reply(flags: 0x86), false)] }
                answer = inner
            case .formErrorToEDNS(let inner):
                guard !hasEDNS else { return [(reply(rcode: 1), false)] }
                answer = inner
            case .decoys(let list):
                let forged = txt([["forged"]], owner: [0xC0, 0x0C], ttl: 300)
                let otherName = Self.encodeName("forged." + name) + question.suffix(4)
                return [(reply(id: (query[0] ^ 0x5A, query[1]), records: forged), false),
                        (reply(records: forged), true),
                        (reply(question: otherName, records: forged), false),
                        (reply(records: txt(list, owner: [0xC0, 0x0C], ttl: 300)), false)]
            case .nxdomain: if records.isEmpty { rcode = 3 }; break resolve
            case .noData: break resolve
            case .txt(let list, let ttl):
                if type == 16 { records += txt(list, owner: owner, ttl: ttl) }
                break resolve
            case .a(let addresses, let ttl):
                if type == 1 { records += addresses.map { (owner, 1, ttl, Self.address($0, AF_INET)) } }
                break resolve
            case .aaaa(let addresses, let ttl):
                if type == 28 { records += addresses.map { (owner, 28, ttl, Self.address($0, AF_INET6)) } }
                break resolve
            case .mx(let exchanges, let ttl):
                if type == 15 {
                    records += exchanges.map {
                        let preference = [UInt8($0.preference >> 8), UInt8($0.preference & 0xFF)]
                        return (owner, 15, ttl, preference + Self.encodeName($0.exchange))
                    }
                }
                break resolve
            case .cname(let target, let ttl):
                let encoded = Self.encodeName(target)
                records.append((owner, 5, ttl, encoded))
                owner = encoded
                lock.lock(); answer = table[target.lowercased()] ?? .nxdomain; lock.unlock()
                hops += 1
                if hops > 8 { rcode = 2; break resolve }
            }
        }
        return [(reply(rcode: rcode, records: records), false)]
    }

    private static func address(_ text: String, _ family: Int32) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: family == AF_INET ? 4 : 16)
        _ = inet_pton(family, text, &bytes)
        return bytes
    }
}
