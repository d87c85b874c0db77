import ArgumentParser
import Foundation
import MilterBench

/// `dkim-bench keystore`: keys from PostgreSQL, measured (see KeyStoreBenchmark).
struct KeyStore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keystore",
        abstract: "Keys from PostgreSQL: warm signing against files, cold lookups, "
            + "start-up and memory against OpenDKIM.")

    @Option(help: "The dkim-milter binary.") var dkimMilter = ".build/release/dkim-milter"
    @Option(help: "Directory with keys/rsa2048a.pem and keys.txt.") var keysDir = "Tests/Fixtures/corpus"
    @Option(help: "Rounds of the warm comparison (files, database, files, …).") var rounds = 5
    @Option(help: "Messages per round of the warm comparison.") var messages = 2000
    @Option(help: "Concurrent connections in the warm comparison.") var concurrency = 4
    @Option(help: "Domains in the table, for start-up and memory (comma separated).")
    var domains = "1000,10000,100000"
    @Option(help: "Distinct domains signed for after start (cold lookups, then the same again warm).")
    var signFor = 1000
    @Option(help: "Starts of each milter per table size (the median is shown).") var starts = 3

    func run() throws {
        guard FileManager.default.isExecutableFile(atPath: dkimMilter) else {
            throw ValidationError(
                "\(dkimMilter) does not exist: build it with swift build -c release --product dkim-milter")
        }
        let record = try BenchKeys.record("sr2048a._domainkey.example.com", inFile: keysDir + "/keys.txt")
        let bench = try KeyStoreBenchmark(dkimMilterPath: dkimMilter, keyFile: keysDir + "/keys/rsa2048a.pem",
                                          record: record)
        defer { bench.stop() }
        func f(_ v: Double, _ d: Int = 0) -> String { String(format: "%.\(d)f", v) }
        func say(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

        // 1. Warm: the same load, keys from files and from the database, interleaved.
        var rates: [KeyStoreBenchmark.Source: [Double]] = [:]
        let message = BenchMessages.message(size: 2048)
        for round in 1...rounds {
            for source in [KeyStoreBenchmark.Source.files, .database] {
                let milter = try bench.start(source)
                defer { milter.stop() }
                _ = LoadRunner(socket: milter.socket, mode: .sign, concurrency: 1, messages: 20,
                               messagesPerConnection: 10, message: message).run()
                let r = LoadRunner(socket: milter.socket, mode: .sign, concurrency: concurrency, messages: messages,
                                   messagesPerConnection: 10, message: message).run()
                guard r.failures == 0 else { throw BenchError("\(source): \(r.firstError ?? "failures")") }
                rates[source, default: []].append(r.messagesPerSecond)
                say("round \(round) \(source.rawValue): \(f(r.messagesPerSecond)) msg/s")
            }
        }
        let files = BenchFormat.median(rates[.files] ?? []), database = BenchFormat.median(rates[.database] ?? [])
        print("| warm signing, 2 KB, \(concurrency) connections | keys from files | keys from PostgreSQL | ratio |")
        print("|---|---|---|---|")
        print("| msg/s (median of \(rounds), range) | \(f(files)) (\(f(rates[.files]?.min() ?? 0))–"
            + "\(f(rates[.files]?.max() ?? 0))) | \(f(database)) (\(f(rates[.database]?.min() ?? 0))–"
            + "\(f(rates[.database]?.max() ?? 0))) | \(f(database / files, 3))× |")
        print("")

        // 2. Start-up, memory, cold and warm lookups per table size, against OpenDKIM on the same lines.
        print("| domains | milter | start-up s (median of \(starts)) | RSS at start MB "
            + "| RSS after \(signFor) domains MB | cold p50 / p99 ms | warm p50 / p99 ms | signed |")
        print("|---|---|---|---|---|---|---|---|")
        for count in domains.split(separator: ",").compactMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) {
            try bench.fill(domains: count)
            let names = (0..<min(signFor, count)).map { "d\(1 + ($0 * 7919) % count).example" }
            for source in [KeyStoreBenchmark.Source.database, .opendkim] {
                var startups: [Double] = []
                var line = ""
                for n in 1...starts {
                    let milter = try bench.start(source)
                    defer { milter.stop() }
                    startups.append(milter.startup)
                    guard n == starts else { continue }
                    let atStart = milter.stats?.rss ?? 0
                    let cold = try KeyStoreBenchmark.signSerially(milter, domains: names)
                    let warm = try KeyStoreBenchmark.signSerially(milter, domains: names)
                    let after = milter.stats?.rss ?? 0
                    func ms(_ v: [Double]) -> String {
                        "\(f(KeyStoreBenchmark.percentile(v, 0.5) * 1000, 2)) / "
                            + "\(f(KeyStoreBenchmark.percentile(v, 0.99) * 1000, 2))"
                    }
                    line = "| \(f(Double(atStart) / 1e6, 1)) | \(f(Double(after) / 1e6, 1)) | \(ms(cold.latencies)) "
                        + "| \(ms(warm.latencies)) | \(cold.signed + warm.signed)/\(2 * names.count) |"
                }
                let name = source == .opendkim ? "OpenDKIM 2.11 (OpenDBX)" : "dkim-milter"
                print("| \(count) | \(name) | \(f(BenchFormat.median(startups), 3)) \(line)")
                say("\(count) domains, \(source.rawValue): started in \(startups.map { f($0, 3) }) s")
            }
        }
    }
}
