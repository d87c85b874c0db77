import DKIM
import Foundation

extension MessageOutcome {
    /// The outcome as one JSON object (`LogFormat json`), stable field names, one line. Every
    /// field is always present (null or empty when it does not apply), so a parser needs no
    /// guesswork; JSON escaping keeps control bytes of untrusted values out of the line.
    public var jsonFields: JSONRecord {
        JSONRecord(
            queue_id: queueID, client: client, decision: decision.rawValue, reason: reason.rawValue,
            origin: origin.map(Self.originWord), auth_user: origin.flatMap(Self.user), from: fromAddress,
            from_fields: fromFieldCount,
            signed: signaturesMade.map {
                .init(domain: $0.domain, selector: $0.selector, algorithm: $0.algorithm.rawValue, key_bits: $0.keyBits)
            },
            signatures: verifications.map {
                .init(index: $0.index, domain: $0.domain, selector: $0.selector, algorithm: $0.algorithm,
                      result: $0.result.word, code: $0.result.error?.code.rawValue,
                      reason: $0.result.isPass ? nil : $0.reason, key_bits: $0.keyBits)
            },
            forged_results_removed: forgedResultsRemoved, authentication_results_added: addedAuthenticationResults,
            reply: Self.replyWord(reply), policy_option: policyAction?.option.rawValue,
            policy_action: policyAction?.action.rawValue, notes: notes,
            timings_ms: .init(headers: Self.ms(timings.headers), body: Self.ms(timings.body),
                              dns_wait: Self.ms(timings.dnsWait), crypto: Self.ms(timings.crypto)))
    }

    /// The JSON log record of one message (field names are part of the interface: README).
    public struct JSONRecord: Encodable, Sendable {
        public struct Signed: Encodable, Sendable {
            public var domain, selector, algorithm: String
            public var key_bits: Int
        }
        public struct Verified: Encodable, Sendable {
            public var index: Int
            public var domain, selector, algorithm: String?
            public var result: String
            public var code, reason: String?
            public var key_bits: Int?
        }
        public struct Timings: Encodable, Sendable {
            public var headers, body, dns_wait, crypto: Double
        }
        public var queue_id, client, decision, reason: String
        public var origin, auth_user, from: String?
        public var from_fields: Int
        public var signed: [Signed]
        public var signatures: [Verified]
        public var forged_results_removed: Int
        public var authentication_results_added: Bool
        public var reply: String
        public var policy_option, policy_action: String?
        public var notes: [String]
        public var timings_ms: Timings

        /// Writes nil as null rather than leaving the key out.
        public func encode(to encoder: any Encoder) throws {
            enum K: String, CodingKey {
                case queue_id, client, decision, reason, origin, auth_user, from, from_fields, signed, signatures
                case forged_results_removed, authentication_results_added, reply, policy_option, policy_action, notes
                case timings_ms
            }
            var c = encoder.container(keyedBy: K.self)
            try c.encode(queue_id, forKey: .queue_id)
            try c.encode(client, forKey: .client)
            try c.encode(decision, forKey: .decision)
            try c.encode(reason, forKey: .reason)
            try c.encode(origin, forKey: .origin)
            try c.encode(auth_user, forKey: .auth_user)
            try c.encode(from, forKey: .from)
            try c.encode(from_fields, forKey: .from_fields)
            try c.encode(signed, forKey: .signed)
            try c.encode(signatures, forKey: .signatures)
            try c.encode(forged_results_removed, forKey: .forged_results_removed)
            try c.encode(authentication_results_added, forKey: .authentication_results_added)
            try c.encode(reply, forKey: .reply)
            try c.encode(policy_option, forKey: .policy_option)
            try c.encode(policy_action, forKey: .policy_action)
            try c.encode(notes, forKey: .notes)
            try c.encode(timings_ms, forKey: .timings_ms)
        }
    }

    static func originWord(_ o: Origin) -> String {
        switch o {
        case .authenticated, .authenticatedWithoutUser: "authenticated"
        case .daemon: "daemon_name"
        case .internalHost: "internal_host"
        }
    }

    static func user(_ o: Origin) -> String? {
        if case .authenticated(let user) = o { user } else { nil }
    }

    static func replyWord(_ r: MilterReply) -> String {
        switch r {
        case .continue: "continue"
        case .accept: "accept"
        case .reject: "reject"
        case .tempfail: "tempfail"
        case .discard: "discard"
        case .quarantine: "quarantine"
        }
    }

    static func ms(_ seconds: Double) -> Double { (seconds * 1e6).rounded() / 1e3 }

    /// The JSON record on one line, keys sorted.
    public var jsonLine: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(jsonFields) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
