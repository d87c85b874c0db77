import DKIM
import DKIMOpenSSL
import Foundation

/// One benchmark case run against both milters, A then B then A…, and its report.
public struct MilterBenchmark {
    public struct Case: Sendable, CustomStringConvertible {
        public var mode: LoadRunner.Mode
        public var keyType: KeyRecord.KeyType
        public var size: Int
        public var concurrency: Int
        public var messages: Int
        public var perConnection: Int
        public var tcp: Bool

        public init(mode: LoadRunner.Mode, keyType: KeyRecord.KeyType, size: Int, concurrency: Int, messages: Int,
                    perConnection: Int, tcp: Bool) {
            self.mode = mode
            self.keyType = keyType
            self.size = size
            self.concurrency = concurrency
            self.messages = messages
            self.perConnection = perConnection
            self.tcp = tcp
        }

        public var description: String {
            "\(mode.rawValue) \(keyType == .rsa ? "rsa2048" : "ed25519") \(BenchFormat.size(size)) c=\(concurrency) "
                + "\(perConnection == 1 ? "1 msg/conn" : "\(perConnection) msg/conn") \(tcp ? "inet" : "unix")"
        }
    }

    public struct Measurement: Sendable {
        public var rates: [Double] = []
        public var p50: [Double] = []
        public var p99: [Double] = []
        public var cpuPerThousand: [Double] = []
        public var peakRSS = 0
        public var failures = 0
        public var verified = 0
        public var verifyFailures = 0
        public var firstError: String?
    }

    public var keyFile: String
    public var selector: String
    public var record: String
    public var dkimMilterPath: String
    public var rounds: Int

    /// The milters measured, interleaved round by round (dkim-milter and OpenDKIM by default).
    public var kinds: [MilterUnderTest.Kind] = [.dkimMilter, .opendkim]

    public init(keyFile: String, selector: String, record: String, dkimMilterPath: String, rounds: Int) {
        self.keyFile = keyFile
        self.selector = selector
        self.record = record
        self.dkimMilterPath = dkimMilterPath
        self.rounds = rounds
    }

    public func run(_ c: Case, log: (String) -> Void) throws -> [MilterUnderTest.Kind: Measurement] {
        let key = try PrivateKey(pemOrSeed: String(contentsOfFile: keyFile, encoding: .utf8))
        var message = BenchMessages.message(size: c.size)
        if c.mode == .verify {
            message = try BenchMessages.signed(message, key: key, domain: "example.com", selector: selector)
        }
        let records = "\(selector)._domainkey.example.com \(record)\n"
        let resolver = try StaticTXTResolver(parsingRecordsFile: records)
        var results: [MilterUnderTest.Kind: Measurement] = [:]
        for round in 0..<rounds {
            for (k, kind) in kinds.enumerated() {
                let port = c.tcp ? 30000 + Int(getpid() % 10000) + round * 3 + k : nil
                // OpenDKIM signs rsa-sha256 unless told otherwise, whatever the key.
                let milter = try MilterUnderTest(kind: kind, mode: c.mode, keyFile: keyFile, selector: selector,
                                                 algorithm: SignatureAlgorithm(keyType: c.keyType),
                                                 records: records, tcpPort: port, dkimMilterPath: dkimMilterPath)
                defer { milter.stop() }
                // Warm up (first connections, page faults, key parsing), then measure.
                _ = LoadRunner(socket: milter.socket, mode: c.mode, concurrency: 1, messages: min(20, c.messages),
                               messagesPerConnection: c.perConnection, message: message).run()
                let before = milter.stats
                let outcome = LoadRunner(socket: milter.socket, mode: c.mode, concurrency: c.concurrency,
                                         messages: c.messages, messagesPerConnection: c.perConnection,
                                         message: message).run()
                let after = milter.stats
                var m = results[kind] ?? Measurement()
                m.rates.append(outcome.messagesPerSecond)
                m.p50.append(outcome.percentile(0.5) * 1000)
                m.p99.append(outcome.percentile(0.99) * 1000)
                if let b = before, let a = after, !outcome.latencies.isEmpty {
                    m.cpuPerThousand.append((a.cpuSeconds - b.cpuSeconds) / Double(outcome.latencies.count) * 1000)
                    m.peakRSS = max(m.peakRSS, a.peakRSS)
                }
                m.failures += outcome.failures
                m.firstError = m.firstError ?? outcome.firstError
                // Every sampled answer is checked: a signature must verify; a verification must say pass;
                // an unsigned message from outside must not be signed.
                for sample in outcome.samples {
                    let ok: Bool
                    if c.mode == .sign {
                        let v = try DKIMVerifier(resolver: resolver, crypto: OpenSSLCryptoProvider())
                            .verify(message: sample + BenchMessages.message(size: c.size),
                                    now: Int(Date().timeIntervalSince1970))
                        ok = !v.signatures.isEmpty && v.signatures.first?.result == .pass
                    } else {
                        let text = String(decoding: sample, as: UTF8.self)
                        ok = c.mode == .verify ? text.contains("dkim=pass") : !text.contains("DKIM-Signature")
                    }
                    if ok { m.verified += 1 } else { m.verifyFailures += 1 }
                }
                results[kind] = m
                log("  round \(round + 1) \(kind.rawValue): "
                    + "\(String(format: "%.0f", outcome.messagesPerSecond)) msg/s, "
                    + "p50 \(String(format: "%.2f", outcome.percentile(0.5) * 1000)) ms, failures \(outcome.failures)")
            }
        }
        return results
    }
}

public enum BenchFormat {
    public static func size(_ bytes: Int) -> String {
        bytes >= 1 << 20 ? "\(bytes >> 20)MB" : bytes >= 1 << 10 ? "\(bytes >> 10)KB" : "\(bytes)B"
    }
    /// A size on the command line: `2k`, `100k`, `10m` or bytes; nil when it is none of these.
    public static func bytes(_ text: String) -> Int? {
        let t = text.lowercased()
        if t.hasSuffix("m") { return Int(t.dropLast()).map { $0 << 20 } }
        if t.hasSuffix("k") { return Int(t.dropLast()).map { $0 << 10 } }
        return Int(t)
    }
    public static func median(_ v: [Double]) -> Double {
        guard !v.isEmpty else { return 0 }
        let s = v.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
