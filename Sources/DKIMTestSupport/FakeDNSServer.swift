import Foundation
import Glibc

/// A small authoritative DNS server on 127.0.0.1 (UDP, a port of its own) for tests: answers TXT
/// queries from a table, follows CNAMEs, can answer NXDOMAIN, SERVFAIL or nothing at all, and
/// counts the queries it gets.
public final class FakeDNSServer: @unchecked Sendable {
    public enum Answer: Sendable {
        /// One TXT record per element, each given as its character-strings.
        case txt([[String]], ttl: UInt32 = 300)
        /// A CNAME to another name of the table.
        case cname(String, ttl: UInt32 = 300)
        case nxdomain
        /// The name exists but has no TXT record.
        case noData
        case servfail
        /// No answer at all (the client times out).
        case silent
        /// A reply with the query's id that claims an answer but is cut short (malformed).
        case garbage
        /// An empty reply with the TC (truncated) bit set: the client should retry over TCP,
        /// which this server does not offer.
        case truncated
    }

    public let port: Int
    private let fd: Int32
    private let lock = NSLock()
    private var table: [String: Answer]
    private var counts: [String: Int] = [:]
    private var running = true
    private var thread: Thread?

    public init(_ table: [String: Answer]) throws {
        guard let (socketFD, port) = LoopbackSocket.bound(.udp) else { throw NSError(domain: "FakeDNSServer", code: Int(errno)) }
        var tv = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(socketFD, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        self.table = Dictionary(uniqueKeysWithValues: table.map { ($0.key.lowercased(), $0.value) })
        self.fd = socketFD
        self.port = port
        let box = WeakBox()
        box.server = self
        let thread = Thread { box.server?.serve() }
        self.thread = thread
        thread.start()
    }

    private final class WeakBox: @unchecked Sendable { weak var server: FakeDNSServer? }

    /// `127.0.0.1:PORT`, for `--nameserver` and `Nameservers`.
    public var address: String { "127.0.0.1:\(port)" }

    /// Queries received for a name (any type), and in all.
    public func queries(for name: String) -> Int { lock.lock(); defer { lock.unlock() }; return counts[name.lowercased()] ?? 0 }
    public var totalQueries: Int { lock.lock(); defer { lock.unlock() }; return counts.values.reduce(0, +) }

    public func set(_ name: String, _ answer: Answer) { lock.lock(); table[name.lowercased()] = answer; lock.unlock() }

    /// Stops answering (the socket stays bound, so clients time out rather than get a refusal).
    public func stop() { lock.lock(); running = false; lock.unlock() }

    deinit { stop(); close(fd) }

    private func serve() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            lock.lock(); let go = running; lock.unlock()
            if !go { return }
            var from = sockaddr_in()
            var fromLength = socklen_t(MemoryLayout<sockaddr_in>.size)
            let n = withUnsafeMutablePointer(to: &from) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buffer, buffer.count, 0, $0, &fromLength) }
            }
            guard n >= 12 else { continue }
            lock.lock(); let stillRunning = running; lock.unlock()
            if !stillRunning { return }
            guard let reply = respond(to: Array(buffer[0..<n])) else { continue }
            _ = withUnsafePointer(to: &from) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, reply, reply.count, 0, $0, fromLength) }
            }
        }
    }

    static func encodeName(_ name: String) -> [UInt8] {
        var out: [UInt8] = []
        for label in name.split(separator: ".") { out.append(UInt8(label.utf8.count)); out += Array(label.utf8) }
        return out + [0]
    }

    private func respond(to query: [UInt8]) -> [UInt8]? {
        var offset = 12
        var labels: [String] = []
        while offset < query.count, query[offset] != 0 {
            let n = Int(query[offset])
            guard offset + 1 + n <= query.count else { return nil }
            labels.append(String(decoding: query[(offset + 1)..<(offset + 1 + n)], as: UTF8.self))
            offset += 1 + n
        }
        offset += 1
        guard offset + 4 <= query.count else { return nil }
        let questionEnd = offset + 4
        let name = labels.joined(separator: ".").lowercased()
        lock.lock()
        counts[name, default: 0] += 1
        var answer = table[name] ?? .nxdomain
        lock.unlock()

        var rcode: UInt8 = 0
        var records: [(owner: [UInt8], type: UInt16, ttl: UInt32, data: [UInt8])] = []
        var owner: [UInt8] = [0xC0, 0x0C]
        var hops = 0
        resolve: while true {
            switch answer {
            case .silent: return nil
            case .garbage:
                return [query[0], query[1], 0x84 | (query[2] & 0x01), 0x80, 0, 1, 0, 3, 0, 0, 0, 0] + query[12..<questionEnd]
                    + [0xC0, 0x0C, 0, 16, 0, 1, 0, 0, 1, 0, 0x01, 0x00, 5, 65, 66]
            case .servfail: rcode = 2; break resolve
            case .truncated:
                return [query[0], query[1], 0x84 | 0x02 | (query[2] & 0x01), 0x80, 0, 1, 0, 0, 0, 0, 0, 0] + query[12..<questionEnd]
            case .nxdomain: if records.isEmpty { rcode = 3 }; break resolve
            case .noData: break resolve
            case .txt(let list, let ttl):
                for strings in list {
                    var data: [UInt8] = []
                    for s in strings { let b = Array(s.utf8); data.append(UInt8(b.count)); data += b }
                    records.append((owner, 16, ttl, data))
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
        var out: [UInt8] = [query[0], query[1], 0x84 | (query[2] & 0x01), 0x80 | rcode, 0, 1,
                            UInt8(records.count >> 8), UInt8(records.count & 0xFF), 0, 0, 0, 0]
        out += query[12..<questionEnd]
        for r in records {
            out += r.owner
            out += [UInt8(r.type >> 8), UInt8(r.type & 0xFF), 0, 1]
            out += [UInt8(r.ttl >> 24), UInt8((r.ttl >> 16) & 0xFF), UInt8((r.ttl >> 8) & 0xFF), UInt8(r.ttl & 0xFF)]
            out += [UInt8(r.data.count >> 8), UInt8(r.data.count & 0xFF)]
            out += r.data
        }
        return out
    }
}
