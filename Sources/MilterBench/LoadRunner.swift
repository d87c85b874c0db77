import DKIM
import DKIMOpenSSL
import Foundation
import MilterClient

/// Drives a milter with N concurrent connections, as Postfix does, and measures it.
public struct LoadRunner: Sendable {
    /// sign: an authenticated client; verify: an outside client, the message signed; pass: an
    /// outside client, the message unsigned (nothing to sign or check: the milter protocol's
    /// own cost, the floor under the other two).
    public enum Mode: String, Sendable { case sign, verify, pass }

    public var socket: String
    public var mode: Mode
    public var concurrency: Int
    public var messages: Int
    /// Messages per connection before it is closed and a new one opened.
    public var messagesPerConnection: Int
    /// The message to send (already signed for verify mode).
    public var message: [UInt8]

    public init(socket: String, mode: Mode, concurrency: Int, messages: Int, messagesPerConnection: Int, message: [UInt8]) {
        self.socket = socket
        self.mode = mode
        self.concurrency = concurrency
        self.messages = messages
        self.messagesPerConnection = messagesPerConnection
        self.message = message
    }

    public struct Outcome: Sendable {
        public var seconds: Double
        public var latencies: [Double]
        public var failures: Int
        public var firstError: String?
        /// The header fields the milter added to a sample of messages (for the correctness check).
        public var samples: [[UInt8]]
        public var messagesPerSecond: Double { Double(latencies.count) / seconds }
        public func percentile(_ p: Double) -> Double {
            guard !latencies.isEmpty else { return 0 }
            let sorted = latencies.sorted()
            return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
        }
    }

    public func run() -> Outcome {
        let next = Counter()
        let results = Collector()
        let group = DispatchGroup()
        let start = Date()
        for worker in 0..<concurrency {
            group.enter()
            let thread = Thread { [self] in
                defer { group.leave() }
                var connection: MilterConnection?
                var sentOnConnection = 0
                while next.take(limit: messages) {
                    do {
                        if connection == nil || sentOnConnection >= messagesPerConnection {
                            if let c = connection { try? c.quit() }
                            let c = try MilterConnection(socket: socket, timeout: 60)
                            try c.negotiate()
                            // 127.0.0.1 is internal (signing); an outside address for verifying.
                            _ = try c.connect(hostname: mode == .sign ? "localhost" : "mx.sender.example",
                                              address: mode == .sign ? "127.0.0.1" : "198.51.100.\(1 + worker % 200)")
                            connection = c
                            sentOnConnection = 0
                        }
                        let t0 = Date()
                        let r = try connection!.send(message: message,
                                                     mailMacros: mode == .sign ? ["{auth_authen}": "alice", "{auth_type}": "PLAIN"] : [:])
                        let dt = Date().timeIntervalSince(t0)
                        sentOnConnection += 1
                        results.add(latency: dt, sample: results.wantsSample ? Array(r.message.prefix(r.message.count - message.count)) : nil,
                                    ok: r.reply == "a" || r.reply == "c")
                    } catch {
                        results.fail("\(error)")
                        connection = nil
                    }
                }
                if let c = connection { try? c.quit() }
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.wait()
        let (latencies, failures, firstError, samples) = results.snapshot()
        return Outcome(seconds: Date().timeIntervalSince(start), latencies: latencies, failures: failures,
                       firstError: firstError, samples: samples)
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var n = 0
        func take(limit: Int) -> Bool { lock.lock(); defer { lock.unlock() }; if n >= limit { return false }; n += 1; return true }
    }

    final class Collector: @unchecked Sendable {
        private let lock = NSLock()
        private var latencies: [Double] = []
        private var failures = 0
        private var firstError: String?
        private var samples: [[UInt8]] = []
        var wantsSample: Bool { lock.lock(); defer { lock.unlock() }; return samples.count < 50 }
        func add(latency: Double, sample: [UInt8]?, ok: Bool) {
            lock.lock(); defer { lock.unlock() }
            latencies.append(latency)
            if !ok { failures += 1; firstError = firstError ?? "the milter did not accept a message" }
            if let sample, samples.count < 50 { samples.append(sample) }
        }
        func fail(_ e: String) { lock.lock(); failures += 1; firstError = firstError ?? e; lock.unlock() }
        func snapshot() -> ([Double], Int, String?, [[UInt8]]) { lock.lock(); defer { lock.unlock() }; return (latencies, failures, firstError, samples) }
    }
}
