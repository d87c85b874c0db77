import DKIM
import DKIMTestSupport
import Foundation
import Glibc
import MetricsTestKit
import MilterClient
import Testing
@testable import DKIMMilter
@testable import DKIMMilterCore

/// The messages of an observability run: each kind with the outcome it must be counted as.
enum ObservedLoad {
    struct Message {
        var queueID: String
        var bytes: [UInt8]
        var client: (host: String, address: String)
        var decision: String
        var reason: String
        var results: [String]
    }

    static func messages(count each: Int) throws -> [Message] {
        let signedInput = MilterFixtures.message
        let pass = try Fixtures.bytes("corpus/messages/canon-basic-rr.eml")
        var failing = pass
        failing[failing.count - 4] ^= 0x01
        let unsigned = Array("From: x@elsewhere.example\r\nTo: b@example.org\r\nSubject: s\r\n\r\nbody\r\n".utf8)
        let noKey = Array("From: a@nokey.example\r\nTo: b@example.org\r\nSubject: s\r\n\r\nbody\r\n".utf8)
        var out: [Message] = []
        for i in 0..<each {
            out.append(Message(queueID: "S\(i)", bytes: signedInput, client: ("localhost", "127.0.0.1"),
                               decision: "signed", reason: "internal_host", results: []))
            out.append(Message(queueID: "P\(i)", bytes: pass, client: ("mx.other.net", "198.51.100.1"),
                               decision: "verified", reason: "not_internal", results: ["pass"]))
            out.append(Message(queueID: "F\(i)", bytes: failing, client: ("mx.other.net", "198.51.100.1"),
                               decision: "verified", reason: "not_internal", results: ["fail"]))
            out.append(Message(queueID: "U\(i)", bytes: unsigned, client: ("mx.other.net", "198.51.100.1"),
                               decision: "verified", reason: "not_internal", results: []))
            out.append(Message(queueID: "K\(i)", bytes: noKey, client: ("localhost", "127.0.0.1"),
                               decision: "verified", reason: "no_key", results: []))
        }
        return out
    }

    /// A milter signing example.com with the corpus key and verifying with the corpus records.
    static func configuration(in dir: String, extra: String) throws -> String {
        try FileManager.default.copyItem(atPath: Fixtures.corpus + "/keys/rsa2048a.pem", toPath: dir + "/k.pem")
        chmod(dir + "/k.pem", 0o600)
        try "k example.com:sr2048a:\(dir)/k.pem\n".write(toFile: dir + "/KeyTable", atomically: true, encoding: .utf8)
        let conf = """
            Mode            sv
            KeyTable        \(dir)/KeyTable
            TestPublicKeys  \(Fixtures.corpus)/keys.txt
            AuthservID      test.example
            RequireSafeKeys no
            \(extra)
            """
        try conf.write(toFile: dir + "/c.conf", atomically: true, encoding: .utf8)
        return dir + "/c.conf"
    }

    static func send(_ messages: [Message], to socket: String) throws {
        for m in messages {
            let c = try MilterConnection(socket: socket)
            try c.negotiate()
            _ = try c.connect(hostname: m.client.host, address: m.client.address)
            let r = try c.send(message: m.bytes, queueID: m.queueID)
            #expect(r.reply == "a" || r.reply == "c", "\(m.queueID): \(r.reply)")
        }
    }
}

/// What the metrics count for each outcome (swift-metrics' test backend, no global state).
@Suite struct MilterMetricsTests {
    typealias F = MilterFixtures

    @Test func everyOutcomeIsCountedByDecisionReasonResultAlgorithmAndKeySize() throws {
        let test = TestMetrics()
        let metrics = MilterMetrics(factory: test, version: "test")
        for m in try ObservedLoad.messages(count: 2) {
            let session = MilterSession(policy: try F.policy())
            metrics.messageStarted()
            _ = F.run(session, m.bytes, client: (m.client.host, m.client.address))
            metrics.record(try #require(session.lastOutcome))
        }
        func count(_ label: String, _ dims: [(String, String)]) -> Int64 {
            test.counterTotal(label: label, dimensions: dims)
        }
        #expect(count("dkim_milter_messages_total", [("decision", "signed"), ("reason", "internal_host")]) == 2)
        #expect(count("dkim_milter_messages_total", [("decision", "verified"), ("reason", "not_internal")]) == 6)
        #expect(count("dkim_milter_messages_total", [("decision", "verified"), ("reason", "no_key")]) == 2)
        #expect(count("dkim_milter_signatures_made_total", [("algorithm", "rsa-sha256")]) == 2)
        #expect(count("dkim_milter_signatures_verified_total",
                      [("result", "pass"), ("algorithm", "rsa-sha256"), ("key_bits", "2048")]) == 2)
        #expect(count("dkim_milter_signatures_verified_total",
                      [("result", "fail"), ("algorithm", "rsa-sha256"), ("key_bits", "2048")]) == 2)
        #expect(count("dkim_milter_policy_actions_total", [("option", "On-NoSignature"), ("action", "accept")]) == 4)
        #expect(try test.expectMeter("dkim_milter_messages_in_flight").lastValue == 0)
    }

    @Test(arguments: [(512, "rsa-sha256", "lt1024"), (1024, "rsa-sha256", "1024"), (2048, "rsa-sha256", "2048"),
                      (3072, "rsa-sha256", "3072"), (4096, "rsa-sha256", "4096"), (8192, "rsa-sha256", "gt4096"),
                      (256, "ed25519-sha256", "ed25519")])
    func keySizesFallInFixedBuckets(_ bits: Int, _ algorithm: String, _ bucket: String) {
        #expect(MilterMetrics.keySizeBucket(bits, algorithm: algorithm) == bucket)
    }
}

/// The JSON log: one object per line, stable field names, one line for every message's outcome.
@Suite(.serialized) struct JSONLogTests {
    @Test func everyMessageHasOneJSONLineMatchingItsOutcome() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let conf = try ObservedLoad.configuration(in: dir, extra: "LogFormat json")
        let milter = try MilterProcess(arguments: ["--config", conf], socket: "unix:\(dir)/m.sock")
        defer { milter.stop() }
        let messages = try ObservedLoad.messages(count: 2)
        try ObservedLoad.send(messages, to: milter.socket)
        // An aborted message has its line too.
        let c = try MilterConnection(socket: milter.socket)
        try c.negotiate()
        _ = try c.connect(hostname: "mx.other.net", address: "198.51.100.1")
        try c.sendPacket("M", Array("<a@b>\0".utf8))
        try c.sendPacket("A")
        try c.sendPacket("Q")
        #expect(milter.logContains("\"decision\":\"aborted\""), "\(milter.log)")

        var byQueue: [String: [String: Any]] = [:]
        for line in milter.log.split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                                      "not one JSON object per line: \(line)")
            #expect(object["time"] is String && object["level"] is String && object["message"] is String)
            if let q = object["queue_id"] as? String { byQueue[q] = object }
        }
        for m in messages {
            let o = try #require(byQueue[m.queueID], "no line for \(m.queueID): \(milter.log)")
            #expect(o["decision"] as? String == m.decision, "\(m.queueID)")
            #expect(o["reason"] as? String == m.reason, "\(m.queueID)")
            let sigs = try #require(o["signatures"] as? [[String: Any]])
            #expect(sigs.map { $0["result"] as? String } == m.results, "\(m.queueID)")
            let timings = try #require(o["timings_ms"] as? [String: Any])
            #expect(Set(timings.keys) == ["headers", "body", "dns_wait", "crypto"])
            for key in ["client", "origin", "auth_user", "from", "signed", "forged_results_removed",
                        "authentication_results_added", "reply", "policy_option", "policy_action", "notes"] {
                #expect(o.keys.contains(key), "\(m.queueID): no \(key)")
            }
            if m.decision == "signed" {
                let signed = try #require(o["signed"] as? [[String: Any]])
                #expect(signed.first?["selector"] as? String == "sr2048a" && signed.first?["key_bits"] as? Int == 2048)
            }
        }
        #expect(byQueue["NOQUEUE"]?["decision"] as? String == "aborted")
    }
}

/// A real Prometheus server (Debian's prometheus) scrapes the milter; its HTTP API then holds
/// exactly the counts of the load sent.
@Suite(.serialized) struct PrometheusScrapeTests {
    static func freePort() throws -> Int {
        let (fd, port) = try #require(LoopbackSocket.bound(.tcp))
        close(fd)
        return port
    }

    /// `GET path` on 127.0.0.1:port: the status line and the body.
    static func get(port: Int, _ path: String) throws -> String {
        let r = try ProcessRunner.run("/usr/bin/curl", ["-s", "--max-time", "5", "http://127.0.0.1:\(port)\(path)"],
                                      timeout: 10)
        return r.stdoutText
    }

    static func query(_ port: Int, _ expr: String) throws -> Double? {
        let encoded = expr.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? expr
        let body = try get(port: port, "/api/v1/query?query=\(encoded)")
        guard let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
              let data = json["data"] as? [String: Any], let result = data["result"] as? [[String: Any]],
              let first = result.first, let value = first["value"] as? [Any], let text = value.last as? String else {
            return nil
        }
        return Double(text)
    }

    @Test func aRealPrometheusFindsTheCountsThatWereSent() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let metricsPort = try Self.freePort()
        let conf = try ObservedLoad.configuration(in: dir, extra: "MetricsListen 127.0.0.1:\(metricsPort)")
        let milter = try MilterProcess(arguments: ["--config", conf], socket: "unix:\(dir)/m.sock")
        defer { milter.stop() }

        let promPort = try Self.freePort()
        try """
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: dkim-milter
                static_configs:
                  - targets: ['127.0.0.1:\(metricsPort)']
            """.write(toFile: dir + "/prometheus.yml", atomically: true, encoding: .utf8)
        let prometheus = try SpawnedProcess("/usr/bin/prometheus", [
            "--config.file=\(dir)/prometheus.yml", "--storage.tsdb.path=\(dir)/data",
            "--web.listen-address=127.0.0.1:\(promPort)", "--log.level=warn",
        ], output: dir + "/prometheus.log")
        defer { prometheus.stop() }

        let messages = try ObservedLoad.messages(count: 3)
        try ObservedLoad.send(messages, to: milter.socket)
        // Wait (bounded) until a scrape after the load is in: every message counted.
        let total = Double(messages.count)
        let deadline = Date().addingTimeInterval(60)
        var seen: Double?
        while Date() < deadline {
            seen = try Self.query(promPort, "sum(dkim_milter_messages_total)")
            if seen == total { break }
            usleep(250_000)
        }
        let promLog = (try? String(contentsOfFile: dir + "/prometheus.log", encoding: .utf8)) ?? ""
        let seenText = seen.map { "\($0)" } ?? "nothing"
        #expect(seen == total, "Prometheus saw \(seenText): \(promLog)")
        #expect(try Self.query(promPort, #"dkim_milter_messages_total{decision="signed",reason="internal_host"}"#) == 3)
        #expect(try Self.query(promPort, #"dkim_milter_messages_total{decision="verified",reason="not_internal"}"#)
                == 9)
        #expect(try Self.query(promPort, #"dkim_milter_messages_total{decision="verified",reason="no_key"}"#) == 3)
        #expect(try Self.query(promPort, #"dkim_milter_signatures_made_total{algorithm="rsa-sha256"}"#) == 3)
        #expect(try Self.query(promPort, #"sum(dkim_milter_signatures_verified_total{result="pass"})"#) == 3)
        #expect(try Self.query(promPort, #"sum(dkim_milter_signatures_verified_total{result="fail"})"#) == 3)
        #expect(try Self.query(promPort, "dkim_milter_messages_in_flight") == 0)
        // Every message's phases are in the (lock-free) histograms, which Prometheus reads as histograms.
        #expect(try Self.query(promPort, #"dkim_milter_message_phase_seconds_count{phase="headers"}"#) == total)
        #expect(try Self.query(promPort, #"dkim_milter_message_phase_seconds_bucket{phase="body",le="+Inf"}"#)
                == total)
        #expect(try Self.query(promPort,
            #"histogram_quantile(0.5, dkim_milter_message_phase_seconds_bucket{phase="headers"}) < 1"#) != nil)
        #expect(try Self.query(promPort, #"dkim_milter_build_info{version="\#(MilterVersion.current)"}"#) == 1)
        #expect(try Self.query(promPort, #"up{job="dkim-milter"}"#) == 1)

        // The Grafana dashboard in contrib/ asks only for metrics we export, in PromQL Prometheus accepts.
        let exported = Set(try Self.get(port: metricsPort, "/metrics").split(separator: "\n")
            .filter { $0.hasPrefix("# TYPE ") }.map { String($0.split(separator: " ")[2]) })
        let dashboard = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath:
            Fixtures.repositoryRoot + "/contrib/grafana/dkim-milter.json"))) as? [String: Any])
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        #expect(panels.count >= 10)
        for panel in panels {
            for target in try #require(panel["targets"] as? [[String: Any]]) {
                let expr = try #require(target["expr"] as? String)
                let names = expr.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_") })
                    .filter { $0.hasPrefix("dkim_milter_") }
                    .map { String($0).replacingOccurrences(of: "_bucket", with: "") }
                for name in names {
                    #expect(exported.contains(name), "\(panel["title"] ?? ""): \(name) is not exported")
                }
                let encoded = expr.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? expr
                let answer = try Self.get(port: promPort, "/api/v1/query?query=\(encoded)")
                #expect(answer.contains("\"status\":\"success\""), "\(expr): \(answer)")
            }
        }
    }

    /// 100 idle connections to the metrics port hold no thread of the milter: mail flows, and the
    /// endpoint still answers.
    @Test func idleMetricsClientsNeitherBlockMailNorTheEndpoint() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let metricsPort = try Self.freePort()
        let conf = try ObservedLoad.configuration(in: dir, extra: "MetricsListen 127.0.0.1:\(metricsPort)")
        let milter = try MilterProcess(arguments: ["--config", conf], socket: "unix:\(dir)/m.sock")
        defer { milter.stop() }
        func threads() -> Int {
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(milter.process.processIdentifier)/task"))?
                .count ?? 0
        }
        let before = threads()
        var idle: [Int32] = []
        defer { for fd in idle { close(fd) } }
        for _ in 0..<100 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = LoopbackSocket.address(port: metricsPort)
            let ok = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            #expect(ok)
            idle.append(fd)
        }
        // A slow client: half a request line, never finished.
        _ = "GET /met".withCString { write(idle[0], $0, 8) }
        let start = Date()
        let messages = try ObservedLoad.messages(count: 10)
        try ObservedLoad.send(messages, to: milter.socket)
        let perMessage = Date().timeIntervalSince(start) / Double(messages.count)
        // Milliseconds each when nothing blocks; the bound leaves room for a loaded machine.
        #expect(perMessage < 2, "\(perMessage) s per message with 100 idle metrics clients")
        #expect(try Self.get(port: metricsPort, "/metrics").contains("dkim_milter_messages_total"))
        #expect(threads() < before + 20, "threads \(before) → \(threads()) with 100 idle clients")
    }

    /// A metrics address that cannot be bound stops the start with a line naming it.
    @Test func anAddressThatCannotBeBoundIsAnErrorAtStartNamingIt() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let (fd, port) = try #require(LoopbackSocket.bound(.tcp))
        defer { close(fd) }
        listen(fd, 1)
        let conf = try ObservedLoad.configuration(in: dir, extra: "MetricsListen 127.0.0.1:\(port)")
        let milter = try MilterProcess(arguments: ["--config", conf], socket: "unix:\(dir)/m.sock",
                                       waitForSocket: false)
        defer { milter.stop() }
        #expect(milter.waitForExit() == 1)
        #expect(milter.log.contains("MetricsListen 127.0.0.1:\(port): cannot listen there"), "\(milter.log)")
    }
}
