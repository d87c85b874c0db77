import Foundation
import Glibc

/// A milter-protocol client (version 6) that talks to a milter as Postfix does: the same
/// negotiation, leading-space header values with LF folding, body chunks of at most 65,535
/// bytes, macros before each step, an abort after every message. For tests and benchmarks.
public final class MilterConnection {
    public struct ProtocolError: Error, CustomStringConvertible {
        public var description: String
        init(_ d: String) { description = d }
    }

    /// What the milter answered for one message.
    public struct Result: Sendable {
        /// The final reply: `a` accept, `c` continue, `r` reject, `t` tempfail, `d` discard, `y` reply code.
        public var reply: Character
        public var modifications: [Modification]
        /// The message with the modifications applied (CRLF line endings).
        public var message: [UInt8]
        /// The step at which the milter gave its final reply (`eom`, `eoh`, `header`, …).
        public var repliedAt: String
        public var quarantineReason: String?
    }

    public enum Modification: Sendable, Equatable {
        case addHeader(name: String, value: String)
        case insertHeader(index: Int, name: String, value: String)
        case changeHeader(index: Int, name: String, value: String)
    }

    private var fd: Int32
    public private(set) var milterActions: UInt32 = 0
    public private(set) var milterProtocol: UInt32 = 0

    static let leadingSpace: UInt32 = 0x0010_0000
    static let noConnect: UInt32 = 0x1, noHelo: UInt32 = 0x2, noMail: UInt32 = 0x4, noRcpt: UInt32 = 0x8
    static let noBody: UInt32 = 0x10, noHeaders: UInt32 = 0x20, noEOH: UInt32 = 0x40, noHeaderReply: UInt32 = 0x80
    static let noData: UInt32 = 0x200
    static let nrConnect: UInt32 = 0x1000, nrHelo: UInt32 = 0x2000, nrMail: UInt32 = 0x4000, nrRcpt: UInt32 = 0x8000
    static let nrData: UInt32 = 0x10000, nrEOH: UInt32 = 0x40000, nrBody: UInt32 = 0x80000

    /// Connects to `unix:/path`, `local:/path` or `inet:PORT@HOST` / `inet6:PORT@HOST`.
    public init(socket spec: String, timeout: TimeInterval = 30) throws {
        let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw ProtocolError("bad socket \(spec)") }
        switch parts[0] {
        case "unix", "local":
            fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let path = Array(parts[1].utf8CString)
            guard path.count <= MemoryLayout.size(ofValue: address.sun_path) else { throw ProtocolError("socket path too long") }
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (i, c) in path.enumerated() { raw[i] = UInt8(bitPattern: c) }
            }
            let ok = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard ok == 0 else { Glibc.close(fd); throw ProtocolError("cannot connect to \(spec): \(String(cString: strerror(errno)))") }
        case "inet", "inet6":
            let hp = parts[1].split(separator: "@", maxSplits: 1).map(String.init)
            let port = hp[0]
            let host = hp.count > 1 ? hp[1] : (parts[0] == "inet6" ? "::1" : "127.0.0.1")
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var result: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, port, &hints, &result) == 0, let ai = result else { throw ProtocolError("cannot resolve \(host)") }
            defer { freeaddrinfo(result) }
            fd = Glibc.socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
            guard Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else {
                Glibc.close(fd)
                throw ProtocolError("cannot connect to \(spec): \(String(cString: strerror(errno)))")
            }
            var on: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        default:
            throw ProtocolError("bad socket type in \(spec)")
        }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    // MARK: Faults (for tests: what a crashing or misbehaving MTA does)

    /// The connection's socket descriptor (-1 once closed).
    public var socketDescriptor: Int32 { fd }

    /// Sends one packet, command and data, exactly as given.
    public func sendPacket(_ command: Character, _ data: [UInt8] = []) throws { try send(command, data) }

    /// Sends bytes with no framing: garbage, or part of a packet.
    public func sendRaw(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw ProtocolError("send failed: \(String(cString: strerror(errno)))") }
            sent += n
        }
    }

    /// Reads one packet.
    public func receivePacket() throws -> (command: Character, data: [UInt8]) { try receive() }

    /// Sends one protocol step (`C`, `H`, `M`, `R`, `T`, `L`, `N`, `B`, `U`) and reads its reply
    /// unless the milter negotiated none (then nil). `D`, `A`, `Q` and `E` are sent without reading.
    public func sendStep(_ command: Character, _ data: [UInt8] = []) throws -> Character? {
        let noReply: [Character: UInt32] = ["C": Self.nrConnect, "H": Self.nrHelo, "M": Self.nrMail, "R": Self.nrRcpt,
                                            "T": Self.nrData, "L": Self.noHeaderReply, "N": Self.nrEOH, "B": Self.nrBody,
                                            "U": 0x20000]
        guard let flag = noReply[command] else { try send(command, data); return nil }
        return try step(command, data, noReply: flag) ?? (has(flag) ? nil : "c")
    }

    /// Half-closes the connection (no more data from us; the milter sees end of file).
    public func shutdownWrite() { if fd >= 0 { Glibc.shutdown(fd, Int32(SHUT_WR)) } }

    /// Closes the socket at once, without `SMFIC_QUIT`, as a crashed MTA would. `reset`: for TCP,
    /// an RST instead of a FIN (SO_LINGER 0). Every later call on this connection fails.
    public func closeAbruptly(reset: Bool = false) {
        guard fd >= 0 else { return }
        if reset {
            var l = linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        }
        Glibc.close(fd)
        fd = -1
    }

    /// Waits up to `timeout` seconds for the milter to close the connection, discarding whatever
    /// it sends first. True when it closed (end of file or reset), false when it kept it open.
    public func waitForClose(timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ms = Int32(max(1, min(200, deadline.timeIntervalSinceNow * 1000)))
            guard poll(&p, 1, ms) >= 0 else { return false }
            if p.revents == 0 { continue }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n == 0 { return true }
            if n < 0 && errno != EAGAIN && errno != EINTR { return true }
        }
        return false
    }

    // MARK: Packets

    func send(_ command: Character, _ data: [UInt8] = []) throws {
        let length = UInt32(data.count + 1)
        var packet: [UInt8] = [UInt8(length >> 24), UInt8((length >> 16) & 0xFF), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF),
                               command.asciiValue!]
        packet.append(contentsOf: data)
        var sent = 0
        while sent < packet.count {
            let n = packet[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw ProtocolError("send failed: \(String(cString: strerror(errno)))") }
            sent += n
        }
    }

    func readExactly(_ count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out[got...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw ProtocolError(n == 0 ? "the milter closed the connection" : "read failed: \(String(cString: strerror(errno)))") }
            got += n
        }
        return out
    }

    func receive() throws -> (Character, [UInt8]) {
        let header = try readExactly(4)
        let length = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
        guard length >= 1 && length < 1 << 24 else { throw ProtocolError("bad packet length \(length)") }
        let body = try readExactly(length)
        return (Character(UnicodeScalar(body[0])), Array(body[1...]))
    }

    static func u32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
    static func u32(_ b: ArraySlice<UInt8>) -> UInt32 {
        let a = Array(b.prefix(4))
        return UInt32(a[0]) << 24 | UInt32(a[1]) << 16 | UInt32(a[2]) << 8 | UInt32(a[3])
    }
    static func cstrings(_ strings: [String]) -> [UInt8] { strings.flatMap { Array($0.utf8) + [0] } }

    // MARK: Steps

    /// Option negotiation, offering what Postfix offers (all actions, all protocol steps, leading space).
    public func negotiate(actions: UInt32 = 0x1FF, protocol offered: UInt32 = 0x001F_FFFF) throws {
        try offerNegotiation(actions: actions, protocol: offered)
        try finishNegotiation()
    }

    /// The first half of `negotiate()`: sends the offer without waiting for the answer.
    public func offerNegotiation(actions: UInt32 = 0x1FF, protocol offered: UInt32 = 0x001F_FFFF) throws {
        try send("O", Self.u32(6) + Self.u32(actions) + Self.u32(offered))
    }

    /// The second half of `negotiate()`: reads the milter's answer to the offer.
    public func finishNegotiation() throws {
        let (cmd, data) = try receive()
        guard cmd == "O", data.count >= 12 else { throw ProtocolError("unexpected negotiation reply \(cmd)") }
        milterActions = Self.u32(data[4...])
        milterProtocol = Self.u32(data[8...])
    }

    private func has(_ flag: UInt32) -> Bool { milterProtocol & flag != 0 }

    /// Sends a step and reads its reply unless the milter asked for none. Returns a final
    /// reply character when the milter ended the message early.
    private func step(_ command: Character, _ data: [UInt8], noReply: UInt32) throws -> Character? {
        try send(command, data)
        if has(noReply) { return nil }
        let (reply, _) = try receive()
        return reply == "c" ? nil : reply
    }

    private func macros(_ forCommand: Character, _ values: [String: String]) throws {
        guard !values.isEmpty else { return }
        var data: [UInt8] = [forCommand.asciiValue!]
        for (k, v) in values.sorted(by: { $0.key < $1.key }) { data += Self.cstrings([k, v]) }
        try send("D", data)
    }

    /// The SMTP client's connection (once per milter connection).
    public func connect(hostname: String, address: String, port: UInt16 = 25, macros extra: [String: String] = [:]) throws -> Character? {
        try macros("C", ["j": "mx.example.net", "{daemon_name}": "smtpd"].merging(extra) { $1 })
        if !has(Self.noConnect) {
            let family: UInt8 = address.contains(":") ? UInt8(ascii: "6") : UInt8(ascii: "4")
            if let r = try step("C", Self.cstrings([hostname]) + [family, UInt8(port >> 8), UInt8(port & 0xFF)] + Self.cstrings([address]),
                                noReply: Self.nrConnect) { return r }
        }
        if !has(Self.noHelo) { return try step("H", Self.cstrings([hostname]), noReply: Self.nrHelo) }
        return nil
    }

    /// One message, as Postfix sends it: macros, MAIL, RCPT, DATA, headers, EOH, body, EOM, then ABORT.
    public func send(message: [UInt8], sender: String = "<sender@example.com>", recipient: String = "<rcpt@example.org>",
                     mailMacros: [String: String] = [:], chunkSize: Int = 65535,
                     queueID: String = "4ABCDE123") throws -> Result {
        let (headers, body) = Self.split(message)
        var result = Result(reply: "c", modifications: [], message: message, repliedAt: "", quarantineReason: nil)
        func finish(_ reply: Character, _ at: String) throws -> Result {
            result.reply = reply
            result.repliedAt = at
            try send("A")
            return result
        }
        try macros("M", ["{mail_addr}": sender].merging(mailMacros) { $1 })
        if !has(Self.noMail), let r = try step("M", Self.cstrings([sender]), noReply: Self.nrMail) { return try finish(r, "mail") }
        try macros("R", ["{rcpt_addr}": recipient])
        if !has(Self.noRcpt), let r = try step("R", Self.cstrings([recipient]), noReply: Self.nrRcpt) { return try finish(r, "rcpt") }
        if !has(Self.noData), let r = try step("T", [], noReply: Self.nrData) { return try finish(r, "data") }
        if !has(Self.noHeaders) {
            for (name, value) in headers {
                var v = value
                if !has(Self.leadingSpace) { while let f = v.first, f == 0x20 || f == 0x09 { v.removeFirst() } }
                // Folded lines reach the milter joined by a bare LF.
                var lf: [UInt8] = []
                var i = 0
                while i < v.count {
                    if v[i] == 0x0D && i + 1 < v.count && v[i + 1] == 0x0A { i += 1; continue }
                    lf.append(v[i]); i += 1
                }
                if let r = try step("L", Array(name.utf8) + [0] + lf + [0], noReply: Self.noHeaderReply) { return try finish(r, "header") }
            }
        }
        if !has(Self.noEOH), let r = try step("N", [], noReply: Self.nrEOH) { return try finish(r, "eoh") }
        if !has(Self.noBody) {
            var offset = 0
            while offset < body.count {
                let end = min(body.count, offset + max(1, min(chunkSize, 65535)))
                if let r = try step("B", Array(body[offset..<end]), noReply: Self.nrBody) {
                    if r != "s" { return try finish(r, "body") }
                    break
                }
                offset = end
            }
        }
        try macros("E", ["i": queueID])
        try send("E")
        while true {
            let (cmd, data) = try receive()
            switch cmd {
            case "h":
                let s = Self.strings(data)
                result.modifications.append(.addHeader(name: s[0], value: s.count > 1 ? s[1] : ""))
            case "i":
                let s = Self.strings(Array(data[4...]))
                result.modifications.append(.insertHeader(index: Int(Self.u32(data[0...])), name: s[0], value: s.count > 1 ? s[1] : ""))
            case "m":
                let s = Self.strings(Array(data[4...]))
                result.modifications.append(.changeHeader(index: Int(Self.u32(data[0...])), name: s[0], value: s.count > 1 ? s[1] : ""))
            case "q":
                result.quarantineReason = Self.strings(data).first
            case "p":
                continue
            case "a", "c", "r", "t", "d", "y":
                result.message = Self.apply(result.modifications, headers: headers, body: body)
                return try finish(cmd, "eom")
            default:
                throw ProtocolError("unexpected reply \(cmd) at end of message")
            }
        }
    }

    /// Ends the connection as Postfix does.
    public func quit() throws { try send("Q") }

    // MARK: Messages

    static func strings(_ data: [UInt8]) -> [String] {
        data.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Header fields (name, raw value after the colon incl. folding) and the body.
    public static func split(_ message: [UInt8]) -> ([(String, [UInt8])], [UInt8]) {
        var fields: [[UInt8]] = []
        var i = 0
        var lineStart = 0
        var bodyStart = message.count
        while i < message.count {
            if message[i] == 0x0A {
                let line = Array(message[lineStart...i])
                if line == [0x0D, 0x0A] || line == [0x0A] { bodyStart = i + 1; break }
                if let f = line.first, (f == 0x20 || f == 0x09), !fields.isEmpty { fields[fields.count - 1] += line } else { fields.append(line) }
                lineStart = i + 1
            }
            i += 1
        }
        if bodyStart == message.count && lineStart < message.count { fields.append(Array(message[lineStart...])) }
        let parsed: [(String, [UInt8])] = fields.map { f in
            var f = f
            while let l = f.last, l == 0x0A || l == 0x0D { f.removeLast() }
            let colon = f.firstIndex(of: 0x3A) ?? f.count
            return (String(decoding: f[0..<colon], as: UTF8.self), colon < f.count ? Array(f[(colon + 1)...]) : [])
        }
        return (parsed, bodyStart <= message.count ? Array(message[min(bodyStart, message.count)...]) : [])
    }

    /// The message as the MTA would write it after the modifications (header values from the
    /// milter use LF folding; the result uses CRLF).
    public static func apply(_ modifications: [Modification], headers: [(String, [UInt8])], body: [UInt8]) -> [UInt8] {
        var fields = headers.map { ($0.0, $0.1) }
        func crlf(_ value: String) -> [UInt8] {
            var out: [UInt8] = []
            for b in value.utf8 { if b == 0x0A { out.append(0x0D) }; out.append(b) }
            return out
        }
        for m in modifications {
            switch m {
            case .addHeader(let name, let value): fields.append((name, crlf(value)))
            case .insertHeader(let index, let name, let value): fields.insert((name, crlf(value)), at: min(index, fields.count))
            case .changeHeader(let index, let name, let value):
                var seen = 0
                if let at = fields.firstIndex(where: { f in
                    if f.0.lowercased() == name.lowercased() { seen += 1; return seen == index }
                    return false
                }) {
                    if value.isEmpty { fields.remove(at: at) } else { fields[at].1 = crlf(value) }
                }
            }
        }
        var out: [UInt8] = []
        for (name, value) in fields { out += Array(name.utf8) + [0x3A] + value + [0x0D, 0x0A] }
        out += [0x0D, 0x0A]
        out += body
        return out
    }
}
