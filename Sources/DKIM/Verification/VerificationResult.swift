/// The result of one signature, in RFC 8601 §2.7.1 words.
public enum VerificationResult: Sendable, Equatable {
    /// The signature verified.
    case pass
    /// The signature was evaluated and did not verify (body or header hash, wrong key).
    case fail(DKIMError)
    /// The signature could not be processed, but not for a permanent reason.
    case neutral(DKIMError)
    /// The signature verified, but is not acceptable to local policy.
    case policy(DKIMError)
    /// The signature can never verify (syntax, missing or revoked key, RFC 8301).
    case permError(DKIMError)
    /// The key could not be fetched for a transient reason.
    case tempError(DKIMError)

    /// The RFC 8601 result word: pass, fail, neutral, policy, permerror or temperror.
    public var word: String {
        switch self {
        case .pass: "pass"
        case .fail: "fail"
        case .neutral: "neutral"
        case .policy: "policy"
        case .permError: "permerror"
        case .tempError: "temperror"
        }
    }

    /// Why it did not pass; nil for pass.
    public var error: DKIMError? {
        switch self {
        case .pass: nil
        case .fail(let e), .neutral(let e), .policy(let e), .permError(let e), .tempError(let e): e
        }
    }

    /// Whether the signature passed.
    public var isPass: Bool { self == .pass }

    /// The result a DKIMError leads to when it stops verification: failed hashes are
    /// `fail`, an unreachable key is `temperror`, everything else is `permerror`.
    public init(stoppedBy error: DKIMError) {
        switch error.code {
        case .bodyHashMismatch, .signatureMismatch, .badBase64: self = .fail(error)
        case .keyUnavailable: self = .tempError(error)
        default: self = .permError(error)
        }
    }
}
