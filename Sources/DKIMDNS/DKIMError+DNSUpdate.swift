import DKIM

extension DKIMError.Code {
    /// A TSIG key that cannot be used: its file is missing, unsafe or malformed, or it names an
    /// algorithm other than hmac-sha256 (RFC 8945 §6).
    public static let tsigKey = DKIMError.Code(rawValue: "tsig_key")
    /// A DNS UPDATE that could not be made to the server or was not answered in time, or that
    /// the server failed to carry out (SERVFAIL): asking again later may succeed.
    public static let dnsUpdateUnavailable = DKIMError.Code(rawValue: "dns_update_unavailable")
    /// A DNS UPDATE the server answered with an error (RFC 2136 §2.2: REFUSED, NOTAUTH, NOTZONE,
    /// a prerequisite that does not hold, …): it will fail again until the cause is fixed.
    public static let dnsUpdateRejected = DKIMError.Code(rawValue: "dns_update_rejected")
    /// A DNS UPDATE whose TSIG failed (RFC 8945 §5.2, §5.4): the server refused the key, the
    /// signature or the time (BADKEY, BADSIG, BADTIME), or its answer is not signed by the key.
    public static let dnsUpdateUnauthenticated = DKIMError.Code(rawValue: "dns_update_unauthenticated")
    /// No zone holding the name is served by the server asked (an authoritative answer carries
    /// the zone's SOA, RFC 2308 §3; none did).
    public static let dnsZoneNotFound = DKIMError.Code(rawValue: "dns_zone_not_found")
}
