import CoreMetrics
import DKIM
import DKIMKeyCheck

/// The milter's numbers, recorded through swift-metrics (the adapter exports them to Prometheus).
///
/// Every handle is made once, at start, for every label combination there can be, and kept in
/// dictionaries that are never written again: recording a message takes no lock shared by all
/// connections (the Prometheus backend's counters are atomics). Labels have low cardinality only;
/// domains and selectors go to the logs, never into a label.
public final class MilterMetrics: Sendable {
    /// The RSA key sizes a verified signature is counted under (`key_bits` label).
    public static func keySizeBucket(_ bits: Int?, algorithm: String?) -> String {
        if algorithm?.lowercased().hasPrefix("ed25519") == true { return "ed25519" }
        guard let bits else { return "unknown" }
        switch bits {
        case ..<1024: return "lt1024"
        case 1024..<2048: return "1024"
        case 2048..<3072: return "2048"
        case 3072..<4096: return "3072"
        case 4096: return "4096"
        default: return "gt4096"
        }
    }

    static let results = ["pass", "fail", "neutral", "policy", "permerror", "temperror"]
    static let algorithms = ["rsa-sha256", "ed25519-sha256", "other"]
    static let keyBuckets = ["lt1024", "1024", "2048", "3072", "4096", "gt4096", "ed25519", "unknown"]
    static let phases = ["headers", "body", "dns_wait", "crypto"]
    public static let dnsOutcomes = ["answer", "no_data", "name_not_found", "temporary_failure"]

    private let messages: [String: Counter]
    private let made: [String: Counter]
    private let verified: [String: Counter]
    private let forged: Counter
    private let actions: [String: Counter]
    private let phaseTimers: [String: Timer]
    private let dnsQueries: [String: Counter]
    private let dnsDuration: Timer
    private let cacheLookups: [Bool: Counter]
    private let reloads: [Bool: Counter]
    private let inFlight: Meter
    private let keyGauges: [String: Gauge]

    /// - Parameters:
    ///   - factory: where the numbers go (the Prometheus factory; a test factory in tests).
    ///   - version: the milter's version, for `dkim_milter_build_info`.
    public init(factory: any MetricsFactory, version: String) {
        var messages: [String: Counter] = [:]
        for d in MessageOutcome.Decision.allCases {
            for r in MessageOutcome.Reason.allCases {
                messages["\(d.rawValue)|\(r.rawValue)"] = Counter(
                    label: "dkim_milter_messages_total", dimensions: [("decision", d.rawValue), ("reason", r.rawValue)],
                    factory: factory)
            }
        }
        self.messages = messages
        var made: [String: Counter] = [:]
        for a in SignatureAlgorithm.allCases {
            made[a.rawValue] = Counter(label: "dkim_milter_signatures_made_total",
                                       dimensions: [("algorithm", a.rawValue)], factory: factory)
        }
        self.made = made
        var verified: [String: Counter] = [:]
        for r in Self.results {
            for a in Self.algorithms {
                for b in Self.keyBuckets {
                    verified["\(r)|\(a)|\(b)"] = Counter(
                        label: "dkim_milter_signatures_verified_total",
                        dimensions: [("result", r), ("algorithm", a), ("key_bits", b)], factory: factory)
                }
            }
        }
        self.verified = verified
        forged = Counter(label: "dkim_milter_forged_authentication_results_removed_total", factory: factory)
        var actions: [String: Counter] = [:]
        for o in MessageOutcome.PolicyOption.allCases {
            for a in ResultAction.allCases {
                actions["\(o.rawValue)|\(a.rawValue)"] = Counter(
                    label: "dkim_milter_policy_actions_total",
                    dimensions: [("option", o.rawValue), ("action", a.rawValue)], factory: factory)
            }
        }
        self.actions = actions
        var phaseTimers: [String: Timer] = [:]
        for p in Self.phases {
            phaseTimers[p] = Timer(label: "dkim_milter_message_phase_seconds", dimensions: [("phase", p)],
                                   factory: factory)
        }
        self.phaseTimers = phaseTimers
        var dnsQueries: [String: Counter] = [:]
        for o in Self.dnsOutcomes {
            dnsQueries[o] = Counter(label: "dkim_milter_dns_queries_total", dimensions: [("outcome", o)],
                                    factory: factory)
        }
        self.dnsQueries = dnsQueries
        dnsDuration = Timer(label: "dkim_milter_dns_query_duration_seconds", factory: factory)
        cacheLookups = [
            true: Counter(label: "dkim_milter_key_cache_lookups_total", dimensions: [("result", "hit")],
                          factory: factory),
            false: Counter(label: "dkim_milter_key_cache_lookups_total", dimensions: [("result", "miss")],
                           factory: factory),
        ]
        reloads = [
            true: Counter(label: "dkim_milter_reloads_total", dimensions: [("result", "ok")], factory: factory),
            false: Counter(label: "dkim_milter_reloads_total", dimensions: [("result", "failed")], factory: factory),
        ]
        inFlight = Meter(label: "dkim_milter_messages_in_flight", factory: factory)
        var keyGauges: [String: Gauge] = [:]
        for l in KeyLifecycle.allCases {
            for p in KeyPublication.allCases {
                keyGauges["\(l.rawValue)|\(p.rawValue)"] = Gauge(
                    label: "dkim_milter_signing_keys",
                    dimensions: [("lifecycle", l.rawValue), ("publication", p.rawValue)], factory: factory)
            }
        }
        self.keyGauges = keyGauges
        Gauge(label: "dkim_milter_build_info", dimensions: [("version", version)], factory: factory).record(1)
    }

    /// A message began (MAIL FROM).
    public func messageStarted() { inFlight.increment() }

    /// A message ended with this outcome (end of message or abort).
    public func record(_ outcome: MessageOutcome) {
        inFlight.decrement()
        messages["\(outcome.decision.rawValue)|\(outcome.reason.rawValue)"]?.increment()
        for s in outcome.signaturesMade { made[s.algorithm.rawValue]?.increment() }
        for v in outcome.verifications {
            let a = v.algorithm.map { Self.algorithms.contains($0.lowercased()) ? $0.lowercased() : "other" } ?? "other"
            verified["\(v.result.word)|\(a)|\(Self.keySizeBucket(v.keyBits, algorithm: v.algorithm))"]?.increment()
        }
        if outcome.forgedResultsRemoved > 0 { forged.increment(by: outcome.forgedResultsRemoved) }
        if let (option, action) = outcome.policyAction {
            actions["\(option.rawValue)|\(action.rawValue)"]?.increment()
        }
        guard outcome.decision != .aborted else { return }
        let t = outcome.timings
        phaseTimers["headers"]?.recordSeconds(t.headers)
        phaseTimers["body"]?.recordSeconds(t.body)
        if !outcome.verifications.isEmpty { phaseTimers["dns_wait"]?.recordSeconds(t.dnsWait) }
        phaseTimers["crypto"]?.recordSeconds(t.crypto)
    }

    /// A DNS query answered (or failed) after `seconds`; `outcome` is one of `dnsOutcomes`.
    public func recordDNSQuery(outcome: String, seconds: Double) {
        dnsQueries[outcome]?.increment()
        dnsDuration.recordSeconds(seconds)
    }

    /// The `outcome` label of a TXT lookup's result.
    public static func dnsOutcome(_ result: TXTLookupResult) -> String {
        switch result {
        case .records(let r): r.isEmpty ? "no_data" : "answer"
        case .nameNotFound: "name_not_found"
        case .temporaryFailure: "temporary_failure"
        }
    }

    /// A key lookup answered from the cache (hit) or sent to DNS (miss).
    public func recordKeyCacheLookup(hit: Bool) { cacheLookups[hit]?.increment() }

    /// The keys by lifecycle and by what the published-key guard found (never checked: unknown).
    public func recordKeys(_ keys: [(KeyLifecycle, KeyPublication?)]) {
        var counts: [String: Int] = [:]
        for (l, p) in keys { counts["\(l.rawValue)|\((p ?? .unknown).rawValue)", default: 0] += 1 }
        for (key, gauge) in keyGauges { gauge.record(counts[key] ?? 0) }
    }

    /// A reload (SIGUSR1) that took effect, or failed and kept the running configuration.
    public func recordReload(succeeded: Bool) { reloads[succeeded]?.increment() }
}
