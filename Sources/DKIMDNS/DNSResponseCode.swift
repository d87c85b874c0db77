/// A DNS response code (RCODE), with the extended codes of DNS UPDATE and TSIG: the 4 bits of
/// the header (RFC 1035 §4.1.1), RFC 2136 §2.2 for UPDATE, and the 16-bit Error field of a TSIG
/// record (RFC 8945 §3); the words are those of the IANA registry (RFC 6895 §2.3).
public struct DNSResponseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let noError = Self(rawValue: 0)
    public static let formatError = Self(rawValue: 1)
    public static let serverFailure = Self(rawValue: 2)
    public static let nameError = Self(rawValue: 3)
    public static let notImplemented = Self(rawValue: 4)
    public static let refused = Self(rawValue: 5)
    /// RFC 2136 §2.2: a name that should not exist does (prerequisite "name is not in use").
    public static let nameExists = Self(rawValue: 6)
    /// RFC 2136 §2.2: an RRset that should not exist does.
    public static let rrsetExists = Self(rawValue: 7)
    /// RFC 2136 §2.2: an RRset that should exist does not.
    public static let rrsetMissing = Self(rawValue: 8)
    /// RFC 2136 §2.2: the server is not authoritative for the zone; with a TSIG error, RFC 8945
    /// §5.2 uses it for a request whose TSIG failed.
    public static let notAuthoritative = Self(rawValue: 9)
    /// RFC 2136 §2.2: a name of the update is not within the zone.
    public static let notInZone = Self(rawValue: 10)
    /// RFC 8945 §5.2.2: the MAC did not verify (a wrong secret).
    public static let badSignature = Self(rawValue: 16)
    /// RFC 8945 §5.2.1: the server does not know the key name, or not with that algorithm.
    public static let badKey = Self(rawValue: 17)
    /// RFC 8945 §5.2.3: the time signed is further from the server's clock than the fudge.
    public static let badTime = Self(rawValue: 18)
    /// RFC 8945 §5.2.2.1: the MAC was truncated further than the server accepts.
    public static let badTruncation = Self(rawValue: 22)

    /// The registry's word: NOERROR, REFUSED, NOTAUTH, BADSIG, …, or "RCODE n" for others.
    public var description: String {
        switch rawValue {
        case 0: "NOERROR"
        case 1: "FORMERR"
        case 2: "SERVFAIL"
        case 3: "NXDOMAIN"
        case 4: "NOTIMP"
        case 5: "REFUSED"
        case 6: "YXDOMAIN"
        case 7: "YXRRSET"
        case 8: "NXRRSET"
        case 9: "NOTAUTH"
        case 10: "NOTZONE"
        case 16: "BADSIG"
        case 17: "BADKEY"
        case 18: "BADTIME"
        case 19: "BADMODE"
        case 20: "BADNAME"
        case 21: "BADALG"
        case 22: "BADTRUNC"
        case 23: "BADCOOKIE"
        default: "RCODE \(rawValue)"
        }
    }
}
