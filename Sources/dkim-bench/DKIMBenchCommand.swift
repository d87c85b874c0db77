import ArgumentParser
import DKIMMilter
import DKIMMilterCore
import DKIM
import DKIMDNS
import DKIMOpenSSL
import Foundation
import MilterBench

@main
struct DKIMBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dkim-bench",
        abstract: "Benchmark dkim-milter against OpenDKIM on this machine, and the DKIM library alone.",
        subcommands: [Milter.self, PostfixCommand.self, Library.self, Load.self, DNS.self, Outcome.self,
                      KeyStore.self])
}

/// Key lookup latency against a DNS server: a lookup every time, and through the cache.
struct DNS: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure TXT lookup latency: DNSClient, and through the cache.")

    @Option(help: "The DNS server, IP:PORT (a loopback test server).") var nameserver: String
    @Option(help: "The name to look up (it should have a TXT record).") var name: String
    @Option(help: "Lookups of each kind.") var count = 2000

    func run() throws {
        let resolver = try DNSClient(nameserver: nameserver, timeout: 2, tries: 1)
        guard case .records(let r) = resolver.lookupTXT(name), !r.isEmpty else {
            throw ValidationError("\(name) has no TXT record at \(nameserver)")
        }
        func measure(_ body: () -> Void) -> [Double] {
            (0..<count).map { _ in
                let t0 = DispatchTime.now().uptimeNanoseconds
                body()
                return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1000
            }.sorted()
        }
        let uncached = measure { _ = resolver.lookupTXT(name) }
        let cache = CachingTXTResolver(upstream: resolver)
        _ = cache.lookupTXT(name)
        let cached = measure { _ = cache.lookupTXT(name) }
        func line(_ label: String, _ v: [Double]) -> String {
            String(format: "%@: median %.1f µs, p99 %.1f µs (%d lookups)",
                label, v[v.count / 2], v[Int(Double(v.count) * 0.99)], v.count)
        }
        print(line("lookup through DNSClient (poll thread)", uncached))
        print(line("cached lookup", cached))
    }
}

/// Load against a milter that is already running (for profiling it, e.g. under callgrind).
struct Load: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send a load to a running milter and report the rate.")

    @Option(help: "The milter's socket: unix:/path or inet:PORT@HOST.") var socket: String
    @Option(
        help: "sign (authenticated client), verify, or pass (unsigned message from outside: the protocol's own cost).")
    var mode = "sign"
    @Option(help: "Message size in bytes.") var size = 2048
    @Option(help: "Concurrent connections.") var concurrency = 1
    @Option(help: "Messages in all.") var messages = 200
    @Option(help: "Messages per connection.") var perConnection = 10
    @Option(help: "For verify: the key that signs the messages (published as sr2048a._domainkey.example.com).")
    var key = "Tests/Fixtures/corpus/keys/rsa2048a.pem"

    @Option(help: "Write one message as the milter changed it to this file.")
    var dump: String?

    func validate() throws {
        guard LoadRunner.Mode(rawValue: mode) != nil else {
            throw ValidationError("--mode: sign, verify or pass, not \(mode)")
        }
    }

    func run() throws {
        var message = BenchMessages.message(size: size)
        if mode == "verify" {
            let k = try PrivateKey(pemOrSeed: String(contentsOfFile: key, encoding: .utf8))
            message = try BenchMessages.signed(message, key: k, domain: "example.com", selector: "sr2048a")
        }
        let outcome = LoadRunner(
            socket: socket, mode: LoadRunner.Mode(rawValue: mode) ?? .sign, concurrency: concurrency,
            messages: messages, messagesPerConnection: perConnection, message: message).run()
        if let dump, let sample = outcome.samples.first {
            try Data(sample + message).write(to: URL(fileURLWithPath: dump))
        }
        print(String(format: "%d messages in %.2f s: %.0f msg/s, p50 %.2f ms, p99 %.2f ms, %d failures%@",
                     outcome.latencies.count, outcome.seconds, outcome.messagesPerSecond,
                     outcome.percentile(0.5) * 1000, outcome.percentile(0.99) * 1000, outcome.failures,
                     outcome.firstError.map { " (\($0))" } ?? ""))
    }
}

struct Milter: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The same load against dkim-milter and OpenDKIM, A then B then A…; reports ratios.")

    @Option(
        help: "Modes: sign, verify, pass (comma separated; pass = unsigned mail from outside, the protocol's floor).")
    var modes = "sign,verify"
    @Option(help: "Keys: rsa, ed25519.") var keys = "rsa"
    @Option(help: "Message sizes: 2k, 100k, 10m.") var sizes = "2k"
    @Option(help: "Concurrent connections (comma separated).") var concurrency = "4"
    @Option(help: "Messages per connection (1 = a connection per message).") var perConnection = "10"
    @Option(help: "Sockets: unix, inet.") var sockets = "unix"
    @Option(help: "Messages per round for 2k messages (fewer for larger ones).") var messages = 2000
    @Option(help: "Rounds (each round runs both milters).") var rounds = 3
    @Option(help: "The dkim-milter binary.") var dkimMilter = ".build/release/dkim-milter"
    @Option(help: "Directory with rsa2048a.pem / ed25519a.pem and keys.txt.") var keysDir = "Tests/Fixtures/corpus"
    @Option(help: "Compare dkim-milter against: opendkim, or observed (itself with JSON logs and metrics on).")
    var against = "opendkim"

    func list(_ s: String) -> [String] { s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    func validate() throws {
        guard ["opendkim", "observed"].contains(against) else {
            throw ValidationError("--against: opendkim or observed")
        }
        for m in list(modes) where LoadRunner.Mode(rawValue: m) == nil {
            throw ValidationError("--modes: sign, verify or pass, not \(m)")
        }
    }

    func run() throws {
        guard FileManager.default.isExecutableFile(atPath: dkimMilter) else {
            throw ValidationError(
                "\(dkimMilter) does not exist: build it with swift build -c release --product dkim-milter")
        }
        func record(_ name: String) throws -> String { try BenchKeys.record(name, inFile: keysDir + "/keys.txt") }
        var table: [String] = []
        let them = against == "observed" ? "JSON+metrics" : "OpenDKIM"
        table.append("| case | dkim-milter msg/s (median, range) | \(them) msg/s | ratio | p50 / p99 ms (ours) | "
            + "p50 / p99 ms (\(them)) | CPU ms/msg ours / \(them) | peak RSS MB ours / \(them) | checked |")
        table.append("|---|---|---|---|---|---|---|---|---|")
        for mode in list(modes) {
            for keyName in list(keys) {
                let (file, selector) = keyName == "ed25519" ? ("ed25519a.pem", "seda") : ("rsa2048a.pem", "sr2048a")
                for sizeText in list(sizes) {
                    let size = BenchFormat.bytes(sizeText) ?? 2048
                    // At least 30, so that CPU from /proc (10 ms ticks) is read to ±0.3 ms per message.
                    let count = max(30, min(messages, messages * 2048 / max(size, 2048)))
                    for c in list(concurrency).compactMap(Int.init) {
                        for per in list(perConnection).compactMap(Int.init) {
                            for socket in list(sockets) {
                                let benchCase = MilterBenchmark.Case(
                                    mode: LoadRunner.Mode(rawValue: mode) ?? .sign,
                                    keyType: keyName == "ed25519" ? .ed25519 : .rsa,
                                    size: size, concurrency: c, messages: count, perConnection: per,
                                    tcp: socket == "inet")
                                FileHandle.standardError.write(Data("\(benchCase)\n".utf8))
                                var bench = MilterBenchmark(keyFile: keysDir + "/keys/" + file, selector: selector,
                                                            record: try record("\(selector)._domainkey.example.com"),
                                                            dkimMilterPath: dkimMilter, rounds: rounds)
                                let other: MilterUnderTest.Kind =
                                    against == "observed" ? .dkimMilterObserved : .opendkim
                                bench.kinds = [.dkimMilter, other]
                                let r = try bench.run(benchCase) {
                                    FileHandle.standardError.write(Data(($0 + "\n").utf8))
                                }
                                table.append(row(benchCase, ours: r[.dkimMilter]!, theirs: r[other]!))
                            }
                        }
                    }
                }
            }
        }
        print(table.joined(separator: "\n"))
    }

    func row(_ c: MilterBenchmark.Case, ours: MilterBenchmark.Measurement, theirs: MilterBenchmark.Measurement)
        -> String {
        func f(_ v: Double, _ d: Int = 0) -> String { String(format: "%.\(d)f", v) }
        let mo = BenchFormat.median(ours.rates), mt = BenchFormat.median(theirs.rates)
        let checked = "\(ours.verified)/\(ours.verified + ours.verifyFailures) ours, "
            + "\(theirs.verified)/\(theirs.verified + theirs.verifyFailures) other"
            + (ours.failures + theirs.failures > 0
                ? "; failures \(ours.failures)/\(theirs.failures): \(ours.firstError ?? theirs.firstError ?? "")"
                : "")
        return "| \(c) | \(f(mo)) (\(f(ours.rates.min() ?? 0))–\(f(ours.rates.max() ?? 0))) | "
            + "\(f(mt)) (\(f(theirs.rates.min() ?? 0))–\(f(theirs.rates.max() ?? 0))) | "
            + "\(f(mt > 0 ? mo / mt : 0, 2))× | "
            + "\(f(BenchFormat.median(ours.p50), 2)) / \(f(BenchFormat.median(ours.p99), 2)) | "
            + "\(f(BenchFormat.median(theirs.p50), 2)) / \(f(BenchFormat.median(theirs.p99), 2)) | "
            + "\(f(BenchFormat.median(ours.cpuPerThousand), 3)) / \(f(BenchFormat.median(theirs.cpuPerThousand), 3)) | "
            + "\(f(Double(ours.peakRSS) / 1e6, 1)) / \(f(Double(theirs.peakRSS) / 1e6, 1)) | \(checked) |"
    }
}

struct Library: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Canonicalize+hash MB/s and signatures/s against openssl speed.")

    @Option(help: "Directory with rsa2048a.pem and ed25519a.pem.") var keysDir = "Tests/Fixtures/corpus/keys"

    func run() throws {
        let speed = LibraryBenchmark.opensslSpeed()
        let simple = LibraryBenchmark.hashThroughput(.simple)
        let relaxed = LibraryBenchmark.hashThroughput(.relaxed)
        let rsa = try PrivateKey(pemOrSeed: String(contentsOfFile: keysDir + "/rsa2048a.pem", encoding: .utf8))
        let ed = try PrivateKey(pemOrSeed: String(contentsOfFile: keysDir + "/ed25519a.pem", encoding: .utf8))
        let rsaRate = LibraryBenchmark.signaturesPerSecond(rsa)
        let edRate = LibraryBenchmark.signaturesPerSecond(ed)
        func pct(_ a: Double, _ b: Double?) -> String { b.map { String(format: "%.0f%%", a / $0 * 100) } ?? "n/a" }
        print("| measure | library | openssl speed | fraction |")
        print("|---|---|---|---|")
        print("| simple body canonicalize + SHA-256 | \(String(format: "%.0f", simple)) MB/s | "
            + "\(speed.sha256.map { String(format: "%.0f", $0) } ?? "n/a") MB/s | \(pct(simple, speed.sha256)) |")
        print("| relaxed body canonicalize + SHA-256 | \(String(format: "%.0f", relaxed)) MB/s | "
            + "\(speed.sha256.map { String(format: "%.0f", $0) } ?? "n/a") MB/s | \(pct(relaxed, speed.sha256)) |")
        print("| RSA-2048 signatures | \(String(format: "%.0f", rsaRate))/s | "
            + "\(speed.rsa2048.map { String(format: "%.0f", $0) } ?? "n/a")/s | \(pct(rsaRate, speed.rsa2048)) |")
        print("| Ed25519 signatures | \(String(format: "%.0f", edRate))/s | "
            + "\(speed.ed25519.map { String(format: "%.0f", $0) } ?? "n/a")/s | \(pct(edRate, speed.ed25519)) |")
    }
}

/// What observability costs per message, in the milter's own code: the text line, the JSON
/// record, and the metrics recording (Prometheus backend), for a signed and a verified outcome.
struct Outcome: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure the per-message cost of logs and metrics.")
    @Option(help: "Outcomes of each kind.") var count = 100_000

    func run() throws {
        var verified = SignatureVerification(index: 1, domain: "example.com", selector: "sr2048a",
                                             algorithm: "rsa-sha256", result: .pass)
        verified.keyBits = 2048
        let signed = MessageOutcome(
            queueID: "4ABCDE123", client: "localhost [127.0.0.1]", decision: .signed, reason: .internalHost,
            origin: .internalHost(client: "localhost [127.0.0.1]"), fromAddress: "alice@example.com",
            signaturesMade: [.init(domain: "example.com", selector: "sr2048a", algorithm: .rsaSHA256, keyBits: 2048)])
        var incoming = MessageOutcome(queueID: "4ABCDE124", client: "mx.other.net [198.51.100.1]", decision: .verified,
                                      reason: .notInternal, fromAddress: "bob@example.com")
        incoming.verifications = [verified]
        incoming.addedAuthenticationResults = true
        let metrics = MilterMetrics(factory: MetricsEndpoint.makeFactory(), version: MilterVersion.current)
        // The milter's own path: lines written to file descriptor 2, here /dev/null while timed.
        let json = MilterLog(destination: .standardError, format: .json)
        let text = MilterLog(destination: .standardError, format: .text)
        let savedStandardError = dup(2)
        let devNull = open("/dev/null", O_WRONLY)
        dup2(devNull, 2)
        defer { dup2(savedStandardError, 2); close(savedStandardError); close(devNull) }
        func time(_ label: String, _ body: () -> Void) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<count { body() }
            let ns = Double(DispatchTime.now().uptimeNanoseconds - t0) / Double(count)
            print(String(format: "%@: %.2f µs per message", label, ns / 1000))
        }
        for (name, o) in [("signed", signed), ("verified", incoming)] {
            time("\(name): text log line written") { text.outcome(o) }
            time("\(name): JSON log line written") { json.outcome(o) }
            time("\(name): metrics recorded") { metrics.messageStarted(); metrics.record(o) }
        }
    }
}
