import DKIM
import DKIMOpenSSL
import DKIMTestSupport
import Foundation
import Glibc

/// Mail through a throwaway Postfix on loopback, as users run the milter: smtp-source (parallel
/// sessions, a new one per message) → Postfix with `smtpd_milters` → smtp-sink, each path of
/// `paths` in turn, A B C A B C…, for `rounds` rounds. Each run is a fresh Postfix instance, sink
/// and milter, warmed up before it is measured; every delivered message is checked. `compare`
/// adds a second dkim-milter binary (a before and an after), interleaved with the first.
public struct PostfixBenchmark {
    /// A path, the dkim-milter binary it runs (the null milter is taken from its folder), main.cf
    /// settings added for it, and its name in the table.
    public struct Entry: Hashable, Sendable {
        public var path: PostfixPath
        public var dkimMilterPath: String
        public var postfixSettings: [String: String] = [:]
        public var label: String
    }

    public struct Case: Sendable, CustomStringConvertible {
        public var size: Int
        public var tcp: Bool
        public var messages: Int
        public var sessions: Int

        public init(size: Int, tcp: Bool, messages: Int, sessions: Int) {
            self.size = size
            self.tcp = tcp
            self.messages = messages
            self.sessions = sessions
        }

        public var description: String {
            "\(BenchFormat.size(size)), milter on \(tcp ? "inet" : "unix"), \(messages) messages, \(sessions) sessions"
        }
    }

    /// One measured run of one path.
    public struct Run: Sendable {
        public var seconds: Double
        public var delivered: Int
        /// The milter's CPU seconds (nil without a milter).
        public var milterCPU: Double?
        /// Postfix's CPU seconds by daemon name, and that of daemons that exited meanwhile.
        public var daemonCPU: [String: Double]
        public var reapedCPU: Double
        /// How busy all cores were meanwhile (0…1), everything on the machine counted.
        public var machineBusy: Double
        /// The share of that busy time used by processes that are not part of the run (other work
        /// on the machine): what the run's CPU figures do not see, and what disturbs its rate.
        public var othersShare: Double
        /// Messages checked at the sink (the warm-up's too), and how many of them were wrong.
        public var checked: Int
        public var problems: Int
        public var firstProblem: String?
        public var messagesPerSecond: Double { seconds > 0 ? Double(delivered) / seconds : 0 }
    }

    public var keyFile: String
    public var selector: String
    public var record: String
    public var rounds: Int
    /// What runs in each round, in this order.
    public var entries: [Entry]
    /// Messages sent (and checked) before each measured run, so that Postfix's daemons are started.
    public var warmUp = 100
    /// A run in which other processes took more than this share of the busy CPU time is run again,
    /// up to `retries` times (the last one counts).
    public var maximumOthersShare = 1.0
    public var retries = 0

    public init(keyFile: String, selector: String, record: String, dkimMilterPath: String, rounds: Int,
                paths: [PostfixPath] = PostfixPath.allCases) {
        self.keyFile = keyFile
        self.selector = selector
        self.record = record
        self.rounds = rounds
        entries = paths.map { Entry(path: $0, dkimMilterPath: dkimMilterPath, label: $0.rawValue) }
    }

    /// Runs every dkim-milter path and the null milter a second time, right after the first, with
    /// `binary` (nil: the same; the null milter from its folder) and `postfixSettings` added to
    /// main.cf, named "PATH (label)".
    public mutating func compare(with binary: String?, postfixSettings: [String: String] = [:], label: String) {
        entries = entries.flatMap { e -> [Entry] in
            guard e.path.milter == .dkimMilter || e.path.milter == .null || e.path.milter == .nullSign else {
                return [e]
            }
            var other = e
            other.dkimMilterPath = binary ?? e.dkimMilterPath
            other.postfixSettings.merge(postfixSettings) { $1 }
            other.label = "\(e.label) (\(label))"
            return [e, other]
        }
    }

    private var records: String { "\(selector)._domainkey.example.com \(record)\n" }

    /// Every run of every path, round by round.
    public func run(_ c: Case, log: (String) -> Void) throws -> [Entry: [Run]] {
        let key = try PrivateKey(pemOrSeed: String(contentsOfFile: keyFile, encoding: .utf8))
        let unsigned = BenchMessages.message(size: c.size)
        let signed = try BenchMessages.signed(unsigned, key: key, domain: "example.com", selector: selector)
        var results: [Entry: [Run]] = [:]
        for round in 0..<rounds {
            log("  round \(round + 1), load average \(Self.loadAverage)")
            for entry in entries {
                var r = try run(entry, c, message: entry.path.sendsSignedMessage ? signed : unsigned)
                var attempt = 0
                while r.othersShare > maximumOthersShare && attempt < retries {
                    attempt += 1
                    log(String(format: "    %@: other processes took %.0f%% of the CPU, again", entry.label,
                               r.othersShare * 100))
                    r = try run(entry, c, message: entry.path.sendsSignedMessage ? signed : unsigned)
                }
                results[entry, default: []].append(r)
                let cpu = r.milterCPU.map {
                    String(format: ", milter %.3f ms/msg", $0 / Double(max(1, r.delivered)) * 1000)
                }
                log("    \(entry.label): \(String(format: "%.0f", r.messagesPerSecond)) msg/s\(cpu ?? ""), "
                    + String(format: "machine %.0f%% busy, others %.0f%%", r.machineBusy * 100, r.othersShare * 100)
                    + (r.problems > 0 ? ", \(r.problems) problems: \(r.firstProblem ?? "")" : ""))
            }
        }
        return results
    }

    /// One fresh Postfix, sink and milter; warm-up; the measured run; the check of every message.
    func run(_ entry: Entry, _ c: Case, message: [UInt8]) throws -> Run {
        let path = entry.path
        let lab = try Lab()
        defer { lab.tearDown() }
        let ports = try Loopback.freePorts(3)
        let sink = try lab.sink(port: ports[0])
        var milter: MilterUnderTest?
        if let kind = path.milter {
            let m = try MilterUnderTest(kind: kind, mode: path.mode, keyFile: keyFile, selector: selector,
                                        algorithm: .rsaSHA256, records: records, tcpPort: c.tcp ? ports[2] : nil,
                                        dkimMilterPath: entry.dkimMilterPath, internalHosts: path.internalHosts)
            lab.onTearDown { m.stop() }
            milter = m
        }
        // No daemon leaves while it is measured (its CPU would be lost to master's reaped total).
        let postfix = try lab.postfix("bench", port: ports[1], relayTo: sink.port, milter: milter?.postfixSocket,
                                      extra: entry.postfixSettings.merging(Self.noDaemonLeaves) { $1 })
        let file = lab.directory + "/message.txt"
        try SMTPSource.writeMessageFile(message, to: file)
        func send(_ count: Int) throws {
            _ = try SMTPSource(messageFile: file, count: count, sessions: c.sessions, sender: "alice@example.com",
                               recipient: "bob@example.org").run(port: postfix.port)
            try postfix.waitUntilQueueIsEmpty(timeout: 600)
        }
        let check = try DeliveryCheck(path.expectation, records: records)
        try send(warmUp)
        var problems = 0
        var firstProblem: String?
        func checkDumps() -> [String] {
            let dumps = sink.dumpFiles
            for d in dumps {
                defer { unlink(d) }
                guard let m = SMTPSink.message(inDump: d), SMTPSink.isComplete(m) else {
                    problems += 1
                    firstProblem = firstProblem ?? "an unreadable or incomplete dump: \(d)"
                    continue
                }
                if let p = check.problem(m, originallySigned: path.sendsSignedMessage) {
                    problems += 1
                    firstProblem = firstProblem ?? p
                }
            }
            return dumps
        }
        let warmed = checkDumps().count
        var checked = warmed
        guard warmed == warmUp else {
            throw BenchError("\(path.rawValue): \(warmed) of \(warmUp) warm-up messages arrived")
        }

        let master = try postfix.masterPID ?? { throw BenchError("Postfix is not running") }()
        let daemonsBefore = DaemonCPU.read(master: master)
        let milterBefore = milter?.stats
        let sinkBefore = sink.pid.flatMap { ProcessStats.read(pid: $0) }
        let selfBefore = MachineCPU.ownAndReapedChildren()
        let machineBefore = MachineCPU.read()
        let start = Date()
        try send(c.messages)
        let machineAfter = MachineCPU.read()
        let selfAfter = MachineCPU.ownAndReapedChildren()
        let daemonsAfter = DaemonCPU.read(master: master)
        let milterAfter = milter?.stats
        let sinkAfter = sink.pid.flatMap { ProcessStats.read(pid: $0) }
        // The last message was written to the sink when its dump file was last modified.
        let dumps = sink.dumpFiles
        let end = dumps.compactMap { Self.modificationTime($0) }.max() ?? Date()
        let used = DaemonCPU.used(from: daemonsBefore, to: daemonsAfter)
        let milterCPU = milterAfter.flatMap { a in milterBefore.map { a.cpuSeconds - $0.cpuSeconds } }
        // Everything of the run: Postfix, the milter, smtp-sink, smtp-source (a reaped child) and this process.
        let ours = used.byName.values.reduce(0, +) + used.reaped + (milterCPU ?? 0) + (selfAfter - selfBefore)
            + ((sinkAfter?.cpuSeconds ?? 0) - (sinkBefore?.cpuSeconds ?? 0))
        let busy = MachineCPU.busySeconds(from: machineBefore, to: machineAfter)
        // Interrupt time (the run's own loopback traffic among it) is charged to no process: not "others".
        let interrupts = MachineCPU.interruptSeconds(from: machineBefore, to: machineAfter)
        let delivered = checkDumps().count
        checked += delivered
        if delivered != c.messages {
            problems += 1
            firstProblem = firstProblem ?? "\(delivered) of \(c.messages) messages arrived"
        }
        return Run(seconds: end.timeIntervalSince(start), delivered: delivered,
                   milterCPU: milterCPU, daemonCPU: used.byName, reapedCPU: used.reaped,
                   machineBusy: MachineCPU.busyShare(from: machineBefore, to: machineAfter),
                   othersShare: busy > 0 ? max(0, busy - interrupts - ours) / busy : 0, checked: checked,
                   problems: problems, firstProblem: firstProblem)
    }

    static let noDaemonLeaves = ["max_use": "1000000", "max_idle": "3600"]

    static func modificationTime(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }

    /// The first three fields of /proc/loadavg.
    public static var loadAverage: String {
        let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }
}
