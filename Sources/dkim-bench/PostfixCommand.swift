import ArgumentParser
import Foundation
import MilterBench

/// `dkim-bench postfix`: the milters inside a throwaway Postfix on loopback (PostfixBenchmark).
struct PostfixCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postfix",
        abstract: "Mail through a throwaway Postfix: no milter, the null milter, dkim-milter, OpenDKIM; "
            + "msg/s, share kept, CPU per message.")

    @Option(help: ArgumentHelp("Paths: none, null, null-sign, sign, verify, pass, untouched, opendkim "
        + "(comma separated; each round's order)."))
    var paths = "none,null,null-sign,sign,verify,pass,untouched,opendkim"
    @Option(help: "Message sizes: 2k, 100k.") var sizes = "2k,100k"
    @Option(help: "The milter's socket: unix, inet.") var sockets = "unix,inet"
    @Option(help: "Messages per measured run.") var messages = 3000
    @Option(help: "Parallel SMTP sessions (smtp-source -s).") var sessions = 8
    @Option(help: "Rounds (each round runs every path).") var rounds = 3
    @Option(help: "The dkim-milter binary (null-milter is taken from the same folder).")
    var dkimMilter = ".build/release/dkim-milter"
    @Option(help: "Directory with keys/rsa2048a.pem and keys.txt.") var keysDir = "Tests/Fixtures/corpus"
    @Option(help: "A second dkim-milter binary: each dkim-milter path runs again with it (before/after in one run).")
    var compare: String?
    @Option(help: "A main.cf setting NAME=VALUE for the compared runs (repeatable; alone: the same binary).")
    var compareSetting: [String] = []
    @Option(help: "The name of the compared runs in the table.") var compareLabel = "compared"
    @Option(help: "Run again a run in which processes outside it took more than this share of the CPU (0-1).")
    var maximumOthers = 0.12  // the kernel's own threads (journal, writeback) take about 5% on a quiet machine
    @Option(help: "How many times a disturbed run is run again.") var retries = 3

    func list(_ s: String) -> [String] { s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    func validate() throws {
        for p in list(paths) where PostfixPath(option: p) == nil {
            throw ValidationError(
                "--paths: none, null, null-sign, sign, verify, pass, untouched or opendkim, not \(p)")
        }
        for s in list(sizes) where BenchFormat.bytes(s) == nil {
            throw ValidationError("--sizes: 2k, 100k, 1m or a number of bytes, not \(s)")
        }
        for s in list(sockets) where s != "unix" && s != "inet" {
            throw ValidationError("--sockets: unix or inet, not \(s)")
        }
        guard getuid() == 0 else { throw ValidationError("Postfix's master must run as root: run dkim-bench as root") }
    }

    func run() throws {
        let null = URL(fileURLWithPath: dkimMilter).deletingLastPathComponent()
            .appendingPathComponent("null-milter").path
        for binary in [dkimMilter, null] where !FileManager.default.isExecutableFile(atPath: binary) {
            throw ValidationError("\(binary) does not exist: build it with swift build -c release")
        }
        let record = try BenchKeys.record("sr2048a._domainkey.example.com", inFile: keysDir + "/keys.txt")
        var bench = PostfixBenchmark(keyFile: keysDir + "/keys/rsa2048a.pem", selector: "sr2048a", record: record,
                                     dkimMilterPath: dkimMilter, rounds: rounds,
                                     paths: list(paths).compactMap { PostfixPath(option: $0) })
        if compare != nil || !compareSetting.isEmpty {
            var settings: [String: String] = [:]
            for s in compareSetting {
                let kv = s.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard kv.count == 2 else { throw ValidationError("--compare-setting: NAME=VALUE, not \(s)") }
                settings[kv[0]] = kv[1]
            }
            bench.compare(with: compare, postfixSettings: settings, label: compareLabel)
        }
        bench.maximumOthersShare = maximumOthers
        bench.retries = retries
        var table = PostfixBenchmarkTable.header
        for sizeText in list(sizes) {
            let size = BenchFormat.bytes(sizeText) ?? 2048
            for socket in list(sockets) {
                let c = PostfixBenchmark.Case(size: size, tcp: socket == "inet", messages: messages, sessions: sessions)
                FileHandle.standardError.write(Data("\(c)\n".utf8))
                let results = try bench.run(c) { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
                table += PostfixBenchmarkTable.rows(c, results, entries: bench.entries)
            }
        }
        print(table.joined(separator: "\n"))
    }
}
