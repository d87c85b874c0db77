import CoreMetrics
import Prometheus

/// The milter's swift-metrics backend: counters, gauges and meters are swift-prometheus's
/// (atomics), timers are `AtomicDurationHistogram`s, so nothing recorded per message takes a
/// lock. A scrape writes the registry's text and then the histograms, one family per name.
public final class MilterMetricsFactory: MetricsFactory, Sendable {
    public let prometheus: PrometheusMetricsFactory
    public let durationBuckets: [Duration]
    /// Written when a timer is made (at start), read when scraped; never on the message path.
    private let histograms = Locked<[AtomicDurationHistogram]>([])

    public init(prometheus: PrometheusMetricsFactory, durationBuckets: [Duration]) {
        self.prometheus = prometheus
        self.durationBuckets = durationBuckets
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        prometheus.makeCounter(label: label, dimensions: dimensions)
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)])
        -> any FloatingPointCounterHandler {
        prometheus.makeFloatingPointCounter(label: label, dimensions: dimensions)
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        prometheus.makeMeter(label: label, dimensions: dimensions)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool)
        -> any RecorderHandler {
        prometheus.makeRecorder(label: label, dimensions: dimensions, aggregate: aggregate)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        let h = AtomicDurationHistogram(name: label, labels: dimensions, buckets: durationBuckets)
        histograms.withLock { $0.append(h) }
        return h
    }

    public func destroyCounter(_ handler: any CounterHandler) { prometheus.destroyCounter(handler) }
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        prometheus.destroyFloatingPointCounter(handler)
    }
    public func destroyMeter(_ handler: any MeterHandler) { prometheus.destroyMeter(handler) }
    public func destroyRecorder(_ handler: any RecorderHandler) { prometheus.destroyRecorder(handler) }
    public func destroyTimer(_ handler: any TimerHandler) {
        histograms.withLock { $0.removeAll { $0 === (handler as AnyObject) } }
    }

    /// Everything in the Prometheus text format: the registry's metrics, then the histograms.
    public func emit() -> [UInt8] {
        var out = prometheus.registry.emitToBuffer()
        let all = histograms.withLock { $0 }
        var names: [String] = []
        for h in all where !names.contains(h.name) { names.append(h.name) }
        for name in names {
            out += Array("# TYPE \(name) histogram\n".utf8)
            for h in all where h.name == name { h.emit(into: &out) }
        }
        return out
    }
}
