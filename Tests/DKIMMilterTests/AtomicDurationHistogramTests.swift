import DKIMMilter
import DKIMMilterCore
import Dispatch
import Testing

@Suite struct AtomicDurationHistogramTests {
    static func text(_ h: AtomicDurationHistogram) -> [String] {
        var out: [UInt8] = []
        h.emit(into: &out)
        return String(decoding: out, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    @Test func bucketsAreCumulativeAndAValueOnABoundCountsInIt() {
        let h = AtomicDurationHistogram(name: "t_seconds", labels: [("phase", "body")],
                                        buckets: [.milliseconds(1), .milliseconds(10)])
        h.recordNanoseconds(500_000)      // 0.5 ms
        h.recordNanoseconds(1_000_000)    // exactly 1 ms: le="0.001"
        h.recordNanoseconds(5_000_000)    // 5 ms
        h.recordNanoseconds(20_000_000)   // 20 ms: only +Inf
        h.recordNanoseconds(-7)           // a clock that went back counts as 0
        #expect(Self.text(h) == [
            #"t_seconds_bucket{phase="body",le="0.001"} 3"#,
            #"t_seconds_bucket{phase="body",le="0.01"} 4"#,
            #"t_seconds_bucket{phase="body",le="+Inf"} 5"#,
            #"t_seconds_sum{phase="body"} 0.0265"#,
            #"t_seconds_count{phase="body"} 5"#,
        ])
    }

    @Test func recordsFromManyThreadsAtOnceAreAllCounted() {
        let h = AtomicDurationHistogram(name: "t_seconds", labels: [], buckets: [.microseconds(100)])
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            for _ in 0..<10_000 { h.recordNanoseconds(i % 2 == 0 ? 50_000 : 150_000) }
        }
        let (counts, sum) = h.snapshot()
        #expect(counts == [40_000, 40_000])
        #expect(sum == .nanoseconds(40_000 * 200_000))
        #expect(Self.text(h).last == "t_seconds_count 80000")
    }

    @Test func aScrapeHasOneHistogramFamilyPerNameAfterTheCounters() {
        let factory = MetricsEndpoint.makeFactory()
        let metrics = MilterMetrics(factory: factory, version: "test")
        metrics.messageStarted()
        metrics.record(MessageOutcome(queueID: "Q1", client: "localhost [127.0.0.1]", decision: .signed,
                                      reason: .internalHost, fromAddress: "alice@example.com"))
        let text = String(decoding: factory.emit(), as: UTF8.self)
        let types = text.split(separator: "\n").filter { $0.hasPrefix("# TYPE dkim_milter_message_phase_seconds") }
        #expect(types == ["# TYPE dkim_milter_message_phase_seconds histogram"])
        #expect(text.contains(#"dkim_milter_message_phase_seconds_count{phase="headers"} 1"#))
        #expect(text.contains(#"dkim_milter_message_phase_seconds_count{phase="crypto"} 1"#))
        #expect(text.contains("dkim_milter_messages_total{"))
    }
}
