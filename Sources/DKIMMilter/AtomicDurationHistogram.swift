import CoreMetrics
import Prometheus
import Synchronization

/// A Prometheus histogram of durations (a swift-metrics `Timer`) that records without a lock:
/// one atomic counter per bucket and one for the sum, so the message phases and DNS latencies
/// every connection records never make two connections wait for each other. (swift-prometheus's
/// own histogram guards its buckets with one mutex per series, a lock shared by all connections.)
///
/// Buckets are stored apart and summed when scraped (Prometheus' `le` buckets are cumulative);
/// the count is the sum of the buckets read, so `_count` always equals the `+Inf` bucket.
public final class AtomicDurationHistogram: TimerHandler, Sendable {
    final class Cell: Sendable {
        let value = Atomic<Int>(0)
    }

    public let name: String
    public let labels: [(String, String)]
    /// Upper bounds in nanoseconds, ascending (`le`: a value equal to a bound counts in it).
    private let bounds: [Int64]
    private let buckets: [Duration]
    /// One per bound, and the last for values above every bound (+Inf).
    private let cells: [Cell]
    private let sumNanoseconds = Atomic<Int64>(0)

    public init(name: String, labels: [(String, String)], buckets: [Duration]) {
        self.name = name
        self.labels = labels
        self.buckets = buckets.sorted()
        bounds = self.buckets.map { Self.nanoseconds($0) }
        cells = (0...buckets.count).map { _ in Cell() }
    }

    static func nanoseconds(_ d: Duration) -> Int64 {
        let (s, atto) = d.components
        return s * 1_000_000_000 + atto / 1_000_000_000
    }

    public func recordNanoseconds(_ duration: Int64) {
        let value = max(duration, 0)
        var i = 0
        while i < bounds.count, value > bounds[i] { i += 1 }
        cells[i].value.wrappingAdd(1, ordering: .relaxed)
        sumNanoseconds.wrappingAdd(value, ordering: .relaxed)
    }

    /// The counts by bucket (not cumulative; the last is above every bound) and the sum.
    public func snapshot() -> (counts: [Int], sum: Duration) {
        (cells.map { $0.value.load(ordering: .relaxed) }, .nanoseconds(sumNanoseconds.load(ordering: .relaxed)))
    }

    /// The series in the Prometheus text format (without the `# TYPE` line: one per family).
    public func emit(into out: inout [UInt8]) {
        let (counts, sum) = snapshot()
        let rendered = labels.map { "\($0.0)=\"\(Self.escaped($0.1))\"" }.joined(separator: ",")
        let prefix = rendered.isEmpty ? "" : rendered + ","
        var cumulative = 0
        for (i, bound) in buckets.enumerated() {
            cumulative += counts[i]
            out += Array("\(name)_bucket{\(prefix)le=\"\(bound.bucketRepresentation)\"} \(cumulative)\n".utf8)
        }
        cumulative += counts[buckets.count]
        let plain = rendered.isEmpty ? "" : "{\(rendered)}"
        out += Array("\(name)_bucket{\(prefix)le=\"+Inf\"} \(cumulative)\n".utf8)
        out += Array("\(name)_sum\(plain) \(sum.bucketRepresentation)\n".utf8)
        out += Array("\(name)_count\(plain) \(cumulative)\n".utf8)
    }

    /// A label value as the text format writes it: backslash, quote and newline escaped.
    static func escaped(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
