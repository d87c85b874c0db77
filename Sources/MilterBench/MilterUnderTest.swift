import DKIM
import DKIMOpenSSL
import DKIMTestSupport
import Foundation
import Glibc
import MilterClient

/// A milter process started for one benchmark case: dkim-milter or OpenDKIM, with equivalent
/// settings (same key, same canonicalization, keys from a records file, no DNS), or the null
/// milter (libmilter doing nothing). A unix socket is made writable by all (Postfix connects as
/// user postfix).
public final class MilterUnderTest {
    public enum Kind: String, Sendable, CaseIterable {
        case dkimMilter = "dkim-milter", opendkim
        /// dkim-milter with JSON logs and the Prometheus endpoint on (the cost of observability).
        case dkimMilterObserved = "dkim-milter+json+metrics"
        /// Sources/null-milter: negotiates the steps dkim-milter negotiates and accepts every message.
        case null = "null-milter"
        /// The null milter given the key: one RSA signature and one added field per message, the
        /// least a libmilter signer does.
        case nullSign = "null-milter+rsa"
    }

    public let kind: Kind
    public let socket: String
    public let process = Process()
    public let directory: String

    /// The socket as Postfix names it in smtpd_milters (`inet:127.0.0.1:PORT`, `unix:/path`).
    public var postfixSocket: String {
        guard socket.hasPrefix("inet:") else { return socket }
        let portAndHost = socket.dropFirst(5).split(separator: "@")
        return "inet:\(portAndHost.count > 1 ? portAndHost[1] : "127.0.0.1"):\(portAndHost[0])"
    }

    /// - Parameters:
    ///   - keyFile: the private key (PEM), published as `selector._domainkey.example.com` in `records`.
    ///   - records: `NAME RECORD` lines.
    ///   - dkimMilterPath: the dkim-milter binary; the null milter is looked for next to it.
    ///   - internalHosts: the InternalHosts setting (127.0.0.1, where the load comes from, signs).
    public init(kind: Kind, mode: LoadRunner.Mode, keyFile: String, selector: String, algorithm: SignatureAlgorithm,
                records: String, tcpPort: Int?, dkimMilterPath: String,
                internalHosts: String = "127.0.0.1") throws {
        self.kind = kind
        directory = NSTemporaryDirectory() + "dkim-bench-\(kind.rawValue)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o755)
        socket = tcpPort.map { "inet:\($0)@127.0.0.1" } ?? "unix:\(directory)/milter.sock"
        let key = directory + "/\(selector).pem"
        try FileManager.default.copyItem(atPath: keyFile, toPath: key)
        chmod(key, 0o600)
        try records.write(toFile: directory + "/records", atomically: true, encoding: .utf8)
        try "\(selector)._domainkey.example.com example.com:\(selector):\(key)\n"
            .write(toFile: directory + "/KeyTable", atomically: true, encoding: .utf8)
        try "*@example.com \(selector)._domainkey.example.com\n"
            .write(toFile: directory + "/SigningTable", atomically: true, encoding: .utf8)
        let common = """
            Mode                    \(mode == .sign ? "s" : "v")
            Syslog                  no
            Canonicalization        relaxed/relaxed
            SignatureAlgorithm      \(algorithm.rawValue)
            KeyTable                \(directory)/KeyTable
            SigningTable            refile:\(directory)/SigningTable
            InternalHosts           \(internalHosts)
            OversignHeaders         From
            TestPublicKeys          \(directory)/records
            RequireSafeKeys         no
            MinimumKeyBits          1024
            AuthservID              bench.example
            On-Default              accept

            """
        var config = common
        if kind == .dkimMilterObserved {
            guard let port = LoopbackSocket.freePort() else { throw BenchError("no free loopback port") }
            config += "LogFormat json\nMetricsListen 127.0.0.1:\(port)\n"
        }
        try config.write(toFile: directory + "/milter.conf", atomically: true, encoding: .utf8)
        switch kind {
        case .dkimMilter, .dkimMilterObserved:
            process.executableURL = URL(fileURLWithPath: dkimMilterPath)
            process.arguments = ["--config", directory + "/milter.conf", "--socket", socket]
        case .opendkim:
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/opendkim")
            process.arguments = ["-f", "-x", directory + "/milter.conf", "-p", socket]
        case .null, .nullSign:
            process.executableURL = URL(fileURLWithPath: dkimMilterPath).deletingLastPathComponent()
                .appendingPathComponent("null-milter")
            process.arguments = kind == .nullSign ? [socket, key] : [socket]
        }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if (try? MilterConnection(socket: socket, timeout: 5)) != nil {
                if socket.hasPrefix("unix:") { chmod(String(socket.dropFirst(5)), 0o666) }
                return
            }
            guard process.isRunning else { break }
            usleep(20_000)
        }
        stop()
        throw BenchError("\(kind.rawValue) did not start on \(socket)")
    }

    public var stats: ProcessStats? { ProcessStats.read(pid: process.processIdentifier) }

    public func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

public struct BenchError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
