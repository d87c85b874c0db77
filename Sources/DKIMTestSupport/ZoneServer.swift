import Foundation
import Glibc

/// dnsmasq on 127.0.0.1 at a free port serving a `DNSZone`: NXDOMAIN for names it does not hold
/// under the `authoritative` domains, REFUSED for every other name. Started with posix_spawn
/// (`SpawnedProcess`), stopped by its pid.
public final class ZoneServer: @unchecked Sendable {
    public let port: UInt16
    private let process: SpawnedProcess

    public struct StartError: Error, CustomStringConvertible { public var description: String }

    private init(process: SpawnedProcess, port: UInt16) {
        self.process = process
        self.port = port
    }

    /// `127.0.0.1:PORT`
    public var address: String { "127.0.0.1:\(port)" }

    public static func start(_ zone: DNSZone, authoritative: [String], directory: String) throws -> ZoneServer {
        try start(dnsmasqArguments: zone.dnsmasqArguments(authoritative: authoritative), directory: directory)
    }

    /// dnsmasq with these record options (`--txt-record=…`, `--local=/DOMAIN/`, …) as they are given.
    public static func start(dnsmasqArguments records: [String], directory: String) throws -> ZoneServer {
        var lastError = ""
        for attempt in 1...5 {
            // dnsmasq binds UDP and TCP on the port: both must be free.
            guard let free = LoopbackSocket.freePort([.udp, .tcp]) else {
                throw StartError(description: "no free port")
            }
            let port = UInt16(free)
            let arguments = ["--keep-in-foreground", "--no-resolv", "--no-hosts", "--listen-address=127.0.0.1",
                             "--bind-interfaces", "--port=\(port)", "--pid-file=", "--conf-file=/dev/null",
                             "--cache-size=0"] + records
            let log = directory + "/dnsmasq-\(attempt).log"
            let process = try SpawnedProcess("/usr/sbin/dnsmasq", arguments, output: log)
            let server = ZoneServer(process: process, port: port)
            let deadline = Date().addingTimeInterval(10)
            while server.process.isRunning && Date() < deadline {
                if canConnect(port) { return server }
                usleep(20_000)
            }
            server.stop()
            lastError = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        }
        throw StartError(description: "dnsmasq did not start: \(lastError)")
    }

    public func stop() { process.stop(timeout: 2) }

    /// dnsmasq listens on TCP once it has read every record.
    static func canConnect(_ port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = LoopbackSocket.address(port: Int(port))
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
