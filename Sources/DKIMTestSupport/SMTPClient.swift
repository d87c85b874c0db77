import Foundation
import Glibc

/// Sends messages over SMTP (EHLO, BODY=8BITMIME, dot-stuffing), keeping every reply: the client
/// of the Postfix end-to-end tests.
public final class SMTPClient {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(_ d: String) { description = d }
    }

    public struct Reply: CustomStringConvertible {
        public var code: Int
        public var text: String
        public var description: String { text }
    }

    /// The replies of one transaction; `rcpt` and `data` are nil when an earlier step was refused.
    public struct Transaction: CustomStringConvertible {
        public var mail: Reply
        public var rcpt: Reply?
        public var data: Reply?
        public var accepted: Bool { mail.code == 250 && rcpt?.code == 250 && data?.code == 250 }
        public var description: String { "MAIL: \(mail) RCPT: \(rcpt?.text ?? "-") DATA: \(data?.text ?? "-")" }
    }

    private let fd: Int32
    private var buffer: [UInt8] = []

    public init(port: Int) throws {
        guard let fd = Loopback.connect(port) else { throw Failure("cannot connect to 127.0.0.1:\(port)") }
        self.fd = fd
        let greeting = try reply()
        guard greeting.code == 220 else { close(); throw Failure("greeting: \(greeting)") }
        let ehlo = try command("EHLO client.test.example")
        guard ehlo.code == 250 else { close(); throw Failure("EHLO: \(ehlo)") }
    }

    private var closed = false
    public func close() {
        if !closed { Glibc.close(fd); closed = true }
    }

    deinit { close() }

    /// One message in a session of its own.
    public static func send(_ message: [UInt8], from: String, to: String, port: Int) throws -> Transaction {
        let c = try SMTPClient(port: port)
        defer { c.close() }
        let t = try c.transaction(message, from: from, to: to)
        try? c.quit()
        return t
    }

    /// MAIL, RCPT, DATA for one CRLF message; after a refusal, RSET.
    public func transaction(_ message: [UInt8], from: String, to: String) throws -> Transaction {
        var t = Transaction(mail: try command("MAIL FROM:<\(from)> BODY=8BITMIME"))
        guard t.mail.code == 250 else { _ = try? command("RSET"); return t }
        t.rcpt = try command("RCPT TO:<\(to)>")
        guard t.rcpt?.code == 250 else { _ = try? command("RSET"); return t }
        let data = try command("DATA")
        guard data.code == 354 else { t.data = data; _ = try? command("RSET"); return t }
        var out: [UInt8] = []
        var lineStart = true
        for b in message {
            if lineStart && b == UInt8(ascii: ".") { out.append(b) }
            out.append(b)
            lineStart = b == UInt8(ascii: "\n")
        }
        if !out.isEmpty && !lineStart { out += Array("\r\n".utf8) }
        out += Array(".\r\n".utf8)
        try write(out)
        t.data = try reply()
        return t
    }

    public func quit() throws { _ = try command("QUIT") }

    public func command(_ line: String) throws -> Reply {
        try write(Array((line + "\r\n").utf8))
        return try reply()
    }

    private func write(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure("send: \(String(cString: strerror(errno)))") }
            sent += n
        }
    }

    /// One reply, all its lines (`250-…` continued, `250 …` last).
    private func reply() throws -> Reply {
        var lines: [String] = []
        while true {
            let line = try readLine()
            lines.append(line)
            let bytes = Array(line.utf8)
            if bytes.count < 4 || bytes[3] != UInt8(ascii: "-") { break }
        }
        let last = lines.last ?? ""
        return Reply(code: Int(last.prefix(3)) ?? 0, text: lines.joined(separator: " | "))
    }

    private func readLine() throws -> String {
        while true {
            if let i = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(buffer[..<i])
                buffer.removeFirst(i + 1)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else {
                throw Failure(n == 0 ? "the server closed the connection" : "recv: \(String(cString: strerror(errno)))")
            }
            buffer += chunk[..<n]
        }
    }
}

