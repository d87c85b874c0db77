import DKIM

extension MessageOutcome {
    /// The outcome as one JSON object (`LogFormat json`) with stable field names (README "Log
    /// fields"). Every field is always present (null or empty when it does not apply), so a parser
    /// needs no guesswork; JSON escaping keeps control bytes of untrusted values out of the line.
    public var jsonObject: JSONLine {
        var o = JSONLine(capacity: 640)
        o.add("queue_id", queueID)
        o.add("client", client)
        o.add("decision", decision.rawValue)
        o.add("reason", reason.rawValue)
        o.add("origin", origin.map(Self.originWord))
        o.add("auth_user", origin.flatMap(Self.user))
        o.add("from", fromAddress)
        o.add("from_fields", fromFieldCount)
        o.add("signed", objects: signaturesMade.map { s in
            var j = JSONLine(capacity: 96)
            j.add("domain", s.domain)
            j.add("selector", s.selector)
            j.add("algorithm", s.algorithm.rawValue)
            j.add("key_bits", s.keyBits)
            return j
        })
        o.add("signatures", objects: verifications.map { v in
            var j = JSONLine(capacity: 160)
            j.add("index", v.index)
            j.add("domain", v.domain)
            j.add("selector", v.selector)
            j.add("algorithm", v.algorithm)
            j.add("result", v.result.word)
            j.add("code", v.result.error?.code.rawValue)
            j.add("reason", v.result.isPass ? nil : v.reason)
            j.add("key_bits", v.keyBits)
            return j
        })
        o.add("forged_results_removed", forgedResultsRemoved)
        o.add("authentication_results_added", addedAuthenticationResults)
        o.add("reply", Self.replyWord(reply))
        o.add("policy_option", policyAction?.option.rawValue)
        o.add("policy_action", policyAction?.action.rawValue)
        o.add("notes", strings: notes)
        var t = JSONLine()
        t.add("headers", milliseconds: timings.headers * 1000)
        t.add("body", milliseconds: timings.body * 1000)
        t.add("dns_wait", milliseconds: timings.dnsWait * 1000)
        t.add("crypto", milliseconds: timings.crypto * 1000)
        o.add("timings_ms", object: t)
        return o
    }

    /// The JSON record on one line.
    public var jsonLine: String { jsonObject.text }

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
}
