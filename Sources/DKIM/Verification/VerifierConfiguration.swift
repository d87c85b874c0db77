/// How a verifier judges signatures.
public struct VerifierConfiguration: Sendable {
    /// At most this many signatures are evaluated (RFC 6376 §8.4 allows a limit against
    /// denial of service); later ones get `neutral` with a reason saying so.
    public var maximumSignatures: Int
    /// RFC 8301 §3.2: RSA keys below 1024 bits MUST NOT be considered valid.
    public var minimumRSAKeyBits: Int
    /// RSA keys above this size are refused: their verification costs too much CPU.
    public var maximumRSAKeyBits: Int
    /// RFC 6376 §6.1.1: a signature whose `x=` is in the past MAY be considered invalid; it is.
    public var rejectsExpiredSignatures: Bool
    /// RFC 6376 §6.1.1: `t=` in the future MAY be ignored. When set, a `t=` further ahead
    /// than `allowedClockDrift` seconds is a permerror.
    public var rejectsFutureTimestamps: Bool
    /// Seconds of clock difference tolerated for `t=` and `x=`.
    public var allowedClockDrift: Int

    public init(maximumSignatures: Int = 32, minimumRSAKeyBits: Int = 1024, maximumRSAKeyBits: Int = 8192,
                rejectsExpiredSignatures: Bool = true, rejectsFutureTimestamps: Bool = false,
                allowedClockDrift: Int = 300) {
        self.maximumSignatures = maximumSignatures
        self.minimumRSAKeyBits = max(1024, minimumRSAKeyBits)
        self.maximumRSAKeyBits = maximumRSAKeyBits
        self.rejectsExpiredSignatures = rejectsExpiredSignatures
        self.rejectsFutureTimestamps = rejectsFutureTimestamps
        self.allowedClockDrift = allowedClockDrift
    }
}
