import DKIM

/// The error for an update that did not succeed, from the server's answer: the server, the
/// name, the response code's word and the fix (RFC 2136 §2.2 for the UPDATE codes, RFC 8945
/// §5.2 and §5.4 for TSIG's). The key is named, its secret never.
struct UpdateProblem {
    let server: DNSNameserver
    let key: TSIGKey
    let name: DNSName
    let zone: DNSName
    let prerequisites: [DNSUpdate.Prerequisite]

    private var keyName: String { "'\(key.name)'" }

    /// A signed (or, for errors, possibly unsigned) answer with an error RCODE.
    func rejection(_ code: DNSResponseCode, signed: Bool) -> DKIMError {
        let unsigned = signed ? "" : " (the answer is not signed, so it may not come from the server)"
        let head = "the DNS server \(server) refused the update of \(name) in zone \(zone): \(code)\(unsigned)"
        switch code {
        case .refused:
            return DKIMError(.dnsUpdateRejected, head + " — the zone does not allow updates signed with the TSIG key "
                             + "\(keyName); add allow-update { key \"\(key.name)\"; }; (or an update-policy grant for "
                             + "the key) to the zone \(zone) in named.conf and reload named")
        case .notAuthoritative:
            return DKIMError(.dnsUpdateRejected, head + " — the server is not authoritative for the zone \(zone); "
                             + "give --server the primary server of \(zone), or the zone that holds \(name)")
        case .notInZone:
            return DKIMError(.dnsUpdateRejected, head + " — \(name) is not within the zone \(zone); give the zone "
                             + "that holds it, or none to have it found")
        case .serverFailure:
            return DKIMError(.dnsUpdateUnavailable, head + " — the server failed to apply it (its log says why, "
                             + "often a zone file or journal it cannot write); fix that and run again")
        case .notImplemented:
            return DKIMError(.dnsUpdateRejected, head + " — the server does not do DNS UPDATE; publish the record "
                             + "by hand or give --server a primary server that does")
        case .formatError:
            return DKIMError(.dnsUpdateRejected, head + " — the server could not read the update; please report "
                             + "this with the server's name and version")
        case .nameExists, .nameError:
            let wanted = code == .nameExists ? "to be unused, but it is in use" : "to be in use, but it is not"
            let names = prerequisites.filter {
                if case .nameIsNotInUse = $0 { code == .nameExists } else { code == .nameError }
            }.map { "\($0.name)" }
            return DKIMError(.dnsUpdateRejected, head + " — the update requires \(names.joined(separator: " or ")) "
                             + "\(wanted) (RFC 2136 §2.4); nothing was changed: read the zone and run again")
        case .rrsetExists, .rrsetMissing:
            return DKIMError(.dnsUpdateRejected, head + " — a prerequisite of the update does not hold (RFC 2136 "
                             + "§2.4); nothing was changed: read the zone's records and run again")
        default:
            return DKIMError(.dnsUpdateRejected, head + "; the server's log says why")
        }
    }

    /// An answer whose TSIG carries an error (RFC 8945 §5.2, §5.4.1, §5.4.3).
    func tsigRefusal(_ error: DNSResponseCode, serverTime: UInt64?, timeSigned now: UInt64) -> DKIMError {
        let head = "the DNS server \(server) refused the TSIG key \(keyName) for the update of \(name): \(error)"
        switch error {
        case .badKey:
            return DKIMError(.dnsUpdateUnauthenticated, head + " — it knows no key of that name with algorithm "
                             + "\(key.algorithm); is the key name and algorithm the ones of the key statement in "
                             + "named.conf? Use the key file tsig-keygen wrote for the server")
        case .badSignature:
            return DKIMError(.dnsUpdateUnauthenticated, head + " — the signature does not verify with the server's "
                             + "secret for \(keyName); is the secret the one in named.conf? Copy the key file "
                             + "tsig-keygen wrote for the server")
        case .badTime:
            let skew = serverTime.map { t in
                "the server's clock is \(t > now ? t - now : now - t) s \(t > now ? "ahead of" : "behind") this host's"
            } ?? "the server's clock and this host's differ"
            return DKIMError(.dnsUpdateUnauthenticated, head + " — \(skew), more than the \(TSIGSigner.fudge) s "
                             + "TSIG allows; set both clocks right (NTP)")
        case .badTruncation:
            return DKIMError(.dnsUpdateUnauthenticated, head + " — it wants a MAC of another length; set no "
                             + "truncation for \(keyName) in named.conf")
        default:
            return DKIMError(.dnsUpdateUnauthenticated, head + "; the server's log says why")
        }
    }

    /// An answer that reports success (or an error) without a TSIG that verifies (RFC 8945 §5.4.2).
    func unverifiedAnswer(_ verdict: TSIGSigner.Verdict, code: DNSResponseCode) -> DKIMError {
        let why = switch verdict {
        case .unsigned: "is not signed"
        case .otherKey(let name, let algorithm): "is signed with another key ('\(name)', \(algorithm))"
        case .invalidMAC: "has a TSIG signature that does not verify with the key \(keyName)"
        case .timeOutsideFudge(let signed, let now):
            "was signed \(signed > now ? signed - now : now - signed) s away from this host's clock, more than "
                + "\(TSIGSigner.fudge) s; set both clocks right (NTP)"
        case .malformed: "has a TSIG record that cannot be read"
        case .verified, .refused: "could not be checked"
        }
        return DKIMError(.dnsUpdateUnauthenticated, "the answer of the DNS server \(server) to the update of \(name) "
                         + "(\(code)) \(why), so it cannot be told from a forgery and whether the update was applied "
                         + "is unknown; read the zone to see, and check that \(server) is the server whose "
                         + "named.conf holds the key \(keyName)")
    }
}
