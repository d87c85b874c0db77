import CoreMetrics
import DKIM
import DKIMKeyCheck

/// The milter's numbers, recorded through swift-metrics (the adapter exports them to Prometheus).
///
/// Every handle is made once, at start, for every label combination there can be, and kept in
/// dictionaries keyed by the outcome's enums, never written again: recording a message builds no
/// string and takes no lock shared by all connections (the backend's counters are atomics and its
/// timers `AtomicDurationHistogram`s). Labels have low cardinality only;
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
    public static let dnsOutcomes = ["answer", "no_data", "name_not_found", "temporary_failure"]

    /// A verified signature's labels (interned words: no string is built per message).
    struct VerifiedKey: Hashable {
        let result: String, algorithm: String, keyBits: String
    }

    private let messages: [MessageOutcome.Decision: [MessageOutcome.Reason: Counter]]
    private let made: [SignatureAlgorithm: Counter]
    private let verified: [VerifiedKey: Counter]
    private let forged: Counter
    private let actions: [MessageOutcome.PolicyOption: [ResultAction: Counter]]
    private let headersTimer: Timer, bodyTimer: Timer, dnsWaitTimer: Timer, cryptoTimer: Timer
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
        var messages: [MessageOutcome.Decision: [MessageOutcome.Reason: Counter]] = [:]
        for d in MessageOutcome.Decision.allCases {
            for r in MessageOutcome.Reason.allCases {
                messages[d, default: [:]][r] = Counter(
                    label: "dkim_milter_messages_total", dimensions: [("decision", d.rawValue), ("reason", r.rawValue)],
                    factory: factory)
            }
        }
        self.messages = messages
        var made: [SignatureAlgorithm: Counter] = [:]
        for a in SignatureAlgorithm.allCases {
            made[a] = Counter(label: "dkim_milter_signatures_made_total",
                                       dimensions: [("algorithm", a.rawValue)], factory: factory)
        }
        self.made = made
        var verified: [VerifiedKey: Counter] = [:]
        for r in Self.results {
            for a in Self.algorithms {
                for b in Self.keyBuckets {
                    verified[VerifiedKey(result: r, algorithm: a, keyBits: b)] = Counter(
                        label: "dkim_milter_signatures_verified_total",
                        dimensions: [("result", r), ("algorithm", a), ("key_bits", b)], factory: factory)
                }
            }
        }
        self.verified = verified
        forged = Counter(label: "dkim_milter_forged_authentication_results_removed_total", factory: factory)
        var actions: [MessageOutcome.PolicyOption: [ResultAction: Counter]] = [:]
        for o in MessageOutcome.PolicyOption.allCases {
            for a in ResultAction.allCases {
                actions[o, default: [:]][a] = Counter(
                    label: "dkim_milter_policy_actions_total",
                    dimensions: [("option", o.rawValue), ("action", a.rawValue)], factory: factory)
            }
        }
        self.actions = actions
        func phase(_ p: String) -> Timer {
            Timer(label: "dkim_milter_message_phase_seconds", dimensions: [("phase", p)], factory: factory)
        }
        (headersTimer, bodyTimer, dnsWaitTimer, cryptoTimer) = (phase("headers"), phase("body"), phase("dns_wait"),
                                                                 phase("crypto"))
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
        messages[outcome.decision]?[outcome.reason]?.increment()
        for s in outcome.signaturesMade { made[s.algorithm]?.increment() }
        for v in outcome.verifications {
            verified[VerifiedKey(result: v.result.word, algorithm: Self.algorithmLabel(v.algorithm),
                                 keyBits: Self.keySizeBucket(v.keyBits, algorithm: v.algorithm))]?.increment()
        }
        if outcome.forgedResultsRemoved > 0 { forged.increment(by: outcome.forgedResultsRemoved) }
        if let (option, action) = outcome.policyAction { actions[option]?[action]?.increment() }
        guard outcome.decision != .aborted else { return }
        let t = outcome.timings
        headersTimer.recordSeconds(t.headers)
        bodyTimer.recordSeconds(t.body)
        if !outcome.verifications.isEmpty { dnsWaitTimer.recordSeconds(t.dnsWait) }
        cryptoTimer.recordSeconds(t.crypto)
    }

    /// The `algorithm` label of a verified signature's a= (one of `algorithms`).
    static func algorithmLabel(_ a: String?) -> String {
        guard let lower = a?.lowercased(), algorithms.contains(lower) else { return "other" }
        return lower
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
