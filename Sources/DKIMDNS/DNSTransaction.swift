import DKIM
import Glibc

/// One query from its first send to its result: UDP tries rotating through the servers, each
/// from a fresh socket with a fresh random id, and the TCP retry of a truncated answer. Lives
/// on the client's thread only; times are nanoseconds on the monotonic clock.
final class DNSTransaction {
    /// What the client was told to use.
    struct Settings: Sendable {
        var servers: [DNSNameserver]
        var timeoutNanoseconds: UInt64
        var tries: Int
        var udpPayloadSize: UInt16?
    }

    private enum Phase {
        case idle
        case udp
        case tcpConnecting
        case tcpWriting
        case tcpReading
    }

    let query: DNSQuery
    let deadline: UInt64
    let completion: @Sendable (DNSLookupResult) -> Void
    private let settings: Settings
    private let firstServer: Int
    private var attempt = 0
    private var phase = Phase.idle
    private var socket: DNSSocket?
    private var id: UInt16 = 0
    private var udpPayloadSize: UInt16?
    private var lastFailure: DNSFailure?
    private var outgoing: [UInt8] = []
    private var incoming: [UInt8] = []
    /// When the current try gives up: its timeout or the deadline, whichever is first.
    private(set) var timer: UInt64 = 0

    /// How many datagrams one wake-up reads before others get their turn.
    private static let datagramsPerWakeUp = 64

    init(query: DNSQuery, deadline: UInt64, settings: Settings, firstServer: Int,
         completion: @escaping @Sendable (DNSLookupResult) -> Void) {
        self.query = query
        self.deadline = deadline
        self.settings = settings
        self.firstServer = firstServer
        self.udpPayloadSize = settings.udpPayloadSize
        self.completion = completion
    }

    /// Each server is asked `tries` times, in turn (resolv.conf(5) `attempts`).
    private var attempts: Int { settings.tries * settings.servers.count }
    private var server: DNSNameserver { settings.servers[(firstServer + attempt) % settings.servers.count] }

    /// The descriptor to poll and for what, while a socket is open.
    var pollRequest: (fd: Int32, events: Int16)? {
        guard let socket else { return nil }
        switch phase {
        case .tcpConnecting, .tcpWriting: return (socket.fd, Int16(POLLOUT))
        case .idle, .udp, .tcpReading: return (socket.fd, Int16(POLLIN))
        }
    }

    /// Sends the first try; the result when the query ends at once.
    func start(now: UInt64) -> DNSLookupResult? {
        send(now: now)
    }

    /// Handles readiness of the socket; the result when the query has ended.
    func handle(_ events: Int16, buffer: inout [UInt8], now: UInt64) -> DNSLookupResult? {
        switch phase {
        case .idle: return nil
        case .udp: return receiveUDP(buffer: &buffer, now: now)
        case .tcpConnecting:
            guard let socket else { return .temporaryFailure(.truncated) }
            guard socket.pendingError() == 0 else { return .temporaryFailure(.truncated) }
            phase = .tcpWriting
            return writeTCP()
        case .tcpWriting: return writeTCP()
        case .tcpReading: return readTCP(buffer: &buffer)
        }
    }

    /// Called when `timer` has passed: the next try, or the end (RFC 1035 §4.2.1: retransmit,
    /// going round the servers; the caller's deadline bounds it all).
    func expire(now: UInt64) -> DNSLookupResult? {
        if now >= deadline { return .temporaryFailure(.timedOut) }
        switch phase {
        case .tcpConnecting, .tcpWriting, .tcpReading: return .temporaryFailure(.truncated)
        case .idle, .udp: return next(now: now, after: .timedOut)
        }
    }

    func close() {
        socket?.close()
        socket = nil
        phase = .idle
    }

    // MARK: UDP

    /// Sends try `attempt`, moving on at once past servers that cannot be reached.
    private func send(now: UInt64) -> DNSLookupResult? {
        while true {
            if now >= deadline { return .temporaryFailure(.timedOut) }
            guard attempt < attempts else { return .temporaryFailure(lastFailure ?? .timedOut) }
            if let failure = sendUDP(now: now) {
                lastFailure = failure
                close()
                attempt += 1
                continue
            }
            return nil
        }
    }

    private func next(now: UInt64, after failure: DNSFailure) -> DNSLookupResult? {
        lastFailure = failure
        close()
        attempt += 1
        return send(now: now)
    }

    private func sendUDP(now: UInt64) -> DNSFailure? {
        guard let (opened, _) = DNSSocket.open(to: server, stream: false) else { return .unreachable(errno: errno) }
        socket = opened
        phase = .udp
        timer = min(now &+ settings.timeoutNanoseconds, deadline)
        return sendQuery()
    }

    /// The query with a new random id (RFC 5452 §9.2), on the open UDP socket.
    private func sendQuery() -> DNSFailure? {
        id = UInt16.random(in: .min ... .max)
        guard let socket else { return .unreachable(errno: EBADF) }
        switch socket.send(query.message(id: id, udpPayloadSize: udpPayloadSize)[...]) {
        case .done: return nil
        case .wouldBlock: return .unreachable(errno: EAGAIN)
        case .failed(let code): return .unreachable(errno: code)
        }
    }

    private func receiveUDP(buffer: inout [UInt8], now: UInt64) -> DNSLookupResult? {
        for _ in 0..<Self.datagramsPerWakeUp {
            guard let socket else { return nil }
            var source = sockaddr_storage()
            let count: Int
            switch socket.receive(into: &buffer, from: &source) {
            case .wouldBlock: return nil
            case .failed(let code): return next(now: now, after: .unreachable(errno: code))
            case .done(let n): count = n
            }
            // RFC 5452 §9.1: only the server asked, with the id and question sent; all else is
            // dropped and the wait goes on.
            guard server.isSource(source) else { continue }
            let message = Array(buffer[0..<count])
            guard let (header, question) = DNSResponse.envelope(in: message),
                  query.isAnswered(by: header, question, id: id) else { continue }
            if header.isTruncated { return startTCP(now: now) }
            // RFC 6891 §7: a server that answers FORMERR to EDNS may not know it; ask again without.
            if header.responseCode == 1, udpPayloadSize != nil {
                udpPayloadSize = nil
                if let failure = sendQuery() { return next(now: now, after: failure) }
                continue
            }
            switch DNSResponse.lookupResult(in: message, for: query.question) {
            case .temporaryFailure(let failure): return next(now: now, after: failure)
            case let result: return result
            }
        }
        return nil
    }

    // MARK: TCP (RFC 7766)

    /// RFC 7766 §5 and RFC 1035 §4.2.2: a truncated UDP answer is asked again over TCP of the
    /// same server, the message after its 2-byte length, within the same try timeout and deadline.
    private func startTCP(now: UInt64) -> DNSLookupResult? {
        close()
        guard let (opened, connecting) = DNSSocket.open(to: server, stream: true) else {
            return .temporaryFailure(.truncated)
        }
        socket = opened
        timer = min(now &+ settings.timeoutNanoseconds, deadline)
        id = UInt16.random(in: .min ... .max)
        let message = query.message(id: id, udpPayloadSize: nil)
        outgoing = [UInt8(message.count >> 8), UInt8(message.count & 0xFF)] + message
        incoming = []
        phase = connecting ? .tcpConnecting : .tcpWriting
        return connecting ? nil : writeTCP()
    }

    private func writeTCP() -> DNSLookupResult? {
        guard let socket else { return .temporaryFailure(.truncated) }
        while !outgoing.isEmpty {
            switch socket.send(outgoing[...]) {
            case .done(let n): outgoing.removeFirst(n)
            case .wouldBlock: return nil
            case .failed: return .temporaryFailure(.truncated)
            }
        }
        phase = .tcpReading
        return nil
    }

    private func readTCP(buffer: inout [UInt8]) -> DNSLookupResult? {
        guard let socket else { return .temporaryFailure(.truncated) }
        while true {
            var source = sockaddr_storage()
            switch socket.receive(into: &buffer, from: &source) {
            case .wouldBlock: return nil
            case .failed: return .temporaryFailure(.truncated)
            case .done(0): return .temporaryFailure(.truncated)
            case .done(let n): incoming += buffer[0..<n]
            }
            guard incoming.count >= 2 else { continue }
            let length = Int(incoming[0]) << 8 | Int(incoming[1])
            guard incoming.count >= 2 + length else { continue }
            let message = Array(incoming[2..<(2 + length)])
            guard let (header, question) = DNSResponse.envelope(in: message),
                  query.isAnswered(by: header, question, id: id), !header.isTruncated else {
                return .temporaryFailure(.malformed)
            }
            return DNSResponse.lookupResult(in: message, for: query.question)
        }
    }
}
