import DKIMTestSupport
import Foundation
import Glibc
import MilterClient

/// Keys from PostgreSQL against keys from files, and against OpenDKIM reading the same
/// `dsn:pgsql` tables: the cost of a warm cache on signing, the latency of a cold lookup, and
/// start-up time and memory with many domains. One real PostgreSQL (started here, on a unix
/// socket and a loopback port in a temporary directory, as nobody) serves every run.
public final class KeyStoreBenchmark {
    public let dkimMilterPath: String
    public let keyFile: String
    let server: PostgresServer
    let directory: String
    private(set) var rows = 0

    /// - Parameter record: the key's record, served (TestPublicKeys, no DNS) as
    ///   `sr2048a._domainkey.example.com`.
    public init(dkimMilterPath: String, keyFile: String, record: String) throws {
        self.dkimMilterPath = dkimMilterPath
        directory = try Fixtures.makeTemporaryDirectory()
        chmod(directory, 0o755)
        // The key is read by the milter under test, as root here and as the test's user elsewhere.
        self.keyFile = directory + "/key.pem"
        try FileManager.default.copyItem(atPath: keyFile, toPath: self.keyFile)
        chmod(self.keyFile, 0o600)
        try "sr2048a._domainkey.example.com \(record)\n"
            .write(toFile: directory + "/records", atomically: true, encoding: .utf8)
        server = try PostgresServer()
        try server.createRole("dkim", password: "bench")
        try server.createDatabase("mail", owner: "postgres")
        try server.psql("""
            CREATE TABLE key_table (name text PRIMARY KEY, domain text, selector text, private_key text);
            CREATE TABLE signing_table (pattern text PRIMARY KEY, key_name text);
            GRANT SELECT ON key_table, signing_table TO dkim;
            INSERT INTO key_table VALUES ('bench', 'example.com', 'sr2048a', '\(self.keyFile)');
            INSERT INTO signing_table VALUES ('example.com', 'bench');
            """, database: "mail")
    }

    public func stop() {
        server.stop()
        Fixtures.removeTemporaryDirectory(directory)
    }

    /// Makes the tables hold `count` domains `d1.example`…, each with its own row (and example.com).
    public func fill(domains count: Int) throws {
        guard count != rows else { return }
        try server.psql("""
            DELETE FROM key_table WHERE name <> 'bench';
            DELETE FROM signing_table WHERE pattern <> 'example.com';
            INSERT INTO key_table SELECT 'k' || i, 'd' || i || '.example', 'sr2048a', '\(keyFile)'
                FROM generate_series(1, \(count)) AS i;
            INSERT INTO signing_table SELECT 'd' || i || '.example', 'k' || i FROM generate_series(1, \(count)) AS i;
            VACUUM ANALYZE key_table;
            VACUUM ANALYZE signing_table;
            """, database: "mail")
        rows = count
    }

    public enum Source: String, Sendable {
        /// dkim-milter with a KeyTable file and a refile: SigningTable.
        case files
        /// dkim-milter with OpenDKIM's `dsn:pgsql://` lines over TCP.
        case database
        /// OpenDKIM with the same `dsn:pgsql://` lines.
        case opendkim
    }

    /// A milter started on a configuration for `source`; `startup` is the time from the spawn to
    /// the first completed option negotiation.
    public final class Running {
        public let process = Process()
        public let socket: String
        public private(set) var startup: Double = 0
        let directory: String

        init(_ source: KeyStoreBenchmark.Source, bench: KeyStoreBenchmark) throws {
            directory = bench.directory + "/\(source.rawValue)-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            socket = "unix:\(directory)/milter.sock"
            var tables: String
            switch source {
            case .files:
                try "bench example.com:sr2048a:\(bench.keyFile)\n"
                    .write(toFile: directory + "/KeyTable", atomically: true, encoding: .utf8)
                try "*@example.com bench\n"
                    .write(toFile: directory + "/SigningTable", atomically: true, encoding: .utf8)
                tables = "KeyTable \(directory)/KeyTable\nSigningTable refile:\(directory)/SigningTable"
            case .database, .opendkim:
                let base = "dsn:pgsql://dkim:bench@\(bench.server.port)+127.0.0.1/mail/"
                tables = "KeyTable \(base)table=key_table?keycol=name?datacol=domain,selector,private_key\n"
                    + "SigningTable \(base)table=signing_table?keycol=pattern?datacol=key_name"
            }
            try """
                Mode                    s
                Syslog                  no
                Canonicalization        relaxed/relaxed
                \(tables)
                InternalHosts           127.0.0.1
                OversignHeaders         From
                RequireSafeKeys         no
                PidFile                 \(directory)/pid
                TestPublicKeys          \(bench.directory)/records

                """.write(toFile: directory + "/milter.conf", atomically: true, encoding: .utf8)
            if source == .opendkim {
                process.executableURL = URL(fileURLWithPath: "/usr/sbin/opendkim")
                process.arguments = ["-f", "-x", directory + "/milter.conf", "-p", socket]
            } else {
                process.executableURL = URL(fileURLWithPath: bench.dkimMilterPath)
                process.arguments = ["--config", directory + "/milter.conf", "--socket", socket]
            }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle(forWritingAtPath: "/dev/null")
            let t0 = DispatchTime.now().uptimeNanoseconds
            try process.run()
            let deadline = Date().addingTimeInterval(600)
            while Date() < deadline, process.isRunning {
                if let c = try? MilterConnection(socket: socket, timeout: 5), (try? c.negotiate()) != nil {
                    try? c.quit()
                    startup = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                    return
                }
                usleep(2_000)
            }
            stop()
            throw BenchError("\(source.rawValue) did not start on \(socket)")
        }

        public var stats: ProcessStats? { ProcessStats.read(pid: process.processIdentifier) }

        public func stop() {
            if process.isRunning { kill(process.processIdentifier, SIGTERM) }
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
    }

    public func start(_ source: Source) throws -> Running { try Running(source, bench: self) }

    /// Sends one message from each domain in turn on one connection; the latency of each, and
    /// how many came back with a signature by that domain.
    public static func signSerially(_ running: Running,
                                    domains: [String]) throws -> (latencies: [Double], signed: Int) {
        let c = try MilterConnection(socket: running.socket, timeout: 30)
        defer { try? c.quit() }
        try c.negotiate()
        _ = try c.connect(hostname: "localhost", address: "127.0.0.1")
        var latencies: [Double] = []
        var signed = 0
        for (n, domain) in domains.enumerated() {
            let message = Array("""
                From: Alice <alice@\(domain)>\r
                To: Bob <bob@example.org>\r
                Subject: key store \(n)\r
                Date: Tue, 01 Dec 2026 10:00:00 +0000\r
                Message-ID: <ks-\(n)@\(domain)>\r
                \r
                A short message.\r

                """.utf8)
            let t0 = DispatchTime.now().uptimeNanoseconds
            let r = try c.send(message: message)
            latencies.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            let ok = r.modifications.contains { m in
                if case .insertHeader(_, let name, let value) = m {
                    name.lowercased() == "dkim-signature" && value.contains("d=\(domain);")
                } else { false }
            }
            if ok { signed += 1 }
        }
        return (latencies, signed)
    }

    public static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }
}
