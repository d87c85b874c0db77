import DKIMMilterCore
import Dispatch
import FlyingFox
import FlyingSocks
import Foundation
import Prometheus

/// `GET /metrics` in the Prometheus text format (`MetricsListen`), served by FlyingFox on the
/// Swift concurrency pool: connections are non-blocking sockets whose tasks suspend while they
/// wait, so slow, idle or malformed HTTP clients never hold a thread libmilter needs, and a
/// request that has not arrived within `timeout` seconds is dropped.
public final class MetricsEndpoint: Sendable {
    public let factory: MilterMetricsFactory
    private let server: HTTPServer
    public let address: String

    /// The registry and factory for the milter's metrics, with histogram buckets fit for mail:
    /// DNS answers and message phases from 100 µs to 30 s.
    public static func makeFactory() -> MilterMetricsFactory {
        MilterMetricsFactory(prometheus: PrometheusMetricsFactory(registry: PrometheusCollectorRegistry()),
                             durationBuckets: [
            .microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
            .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30),
        ])
    }

    /// Binds the address (`HOST:PORT`, `[IPv6]:PORT`, or a port alone for 127.0.0.1) and starts
    /// serving. Throws, naming the address, when it cannot listen there.
    public init(listen: String, factory: MilterMetricsFactory,
                timeout: TimeInterval = 10) throws(ConfigurationError) {
        let (host, port) = try Self.parse(listen)
        self.factory = factory
        self.address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        do {
            if host.contains(":") {
                server = HTTPServer(address: try sockaddr_in6.inet6(ip6: host, port: port), timeout: timeout,
                                    logger: .disabled)
            } else {
                server = HTTPServer(address: try sockaddr_in.inet(ip4: host, port: port), timeout: timeout,
                                    logger: .disabled)
            }
        } catch {
            throw ConfigurationError("MetricsListen \(listen): \(host) is not an IP address")
        }
        let factory = self.factory
        let started = DispatchSemaphore(value: 0)
        let failure = Locked<String?>(nil)
        let server = self.server
        let address = self.address
        Task.detached {
            await server.appendRoute("GET /metrics") { _ in
                HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                             body: Data(factory.emit()))
            }
            do {
                try await server.run()
            } catch {
                failure.withLock { $0 = "\(error)" }
                started.signal()
            }
        }
        Task.detached {
            do {
                try await server.waitUntilListening(timeout: 10)
            } catch {
                failure.withLock { $0 = $0 ?? "did not start listening within 10 s" }
            }
            started.signal()
        }
        started.wait()
        if let why = failure.withLock({ $0 }) {
            throw ConfigurationError("MetricsListen \(address): cannot listen there (\(why)); "
                + "is another program using the port?")
        }
    }

    /// `HOST:PORT`, `[IPv6]:PORT` or `PORT` (127.0.0.1).
    static func parse(_ text: String) throws(ConfigurationError) -> (String, UInt16) {
        var host = "127.0.0.1"
        var portText = text
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = String(text[text.index(after: text.startIndex)..<close])
            portText = String(text[close...].dropFirst().drop { $0 == ":" })
        } else if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon])
            portText = String(text[text.index(after: colon)...])
        }
        guard let port = UInt16(portText), port > 0 else {
            throw ConfigurationError("MetricsListen \(text): expected HOST:PORT such as 127.0.0.1:9811")
        }
        return (host, port)
    }

    /// Whether `HOST:PORT` is on a loopback address (127.0.0.0/8 or ::1).
    public static func isLoopback(_ address: String) -> Bool {
        address.hasPrefix("127.") || address.hasPrefix("[::1]")
    }

    /// Stops listening (at shutdown).
    public func stop() {
        let server = self.server
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            await server.stop(timeout: 1)
            done.signal()
        }
        _ = done.wait(timeout: .now() + 3)
    }
}
