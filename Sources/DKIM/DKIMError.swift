/// An error with a machine-readable code and a sentence for people.
///
/// Equality compares the code only, so tests can match on the kind of failure while
/// the reason names the details (the tag, the value, the file).
public struct DKIMError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is. New codes can be added without breaking callers.
    public struct Code: Hashable, Sendable, RawRepresentable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        // Signature syntax and semantics (RFC 6376 §3.5, §6.1.1)
        public static let signatureSyntax = Code(rawValue: "signature_syntax")
        public static let duplicateTag = Code(rawValue: "duplicate_tag")
        public static let missingRequiredTag = Code(rawValue: "missing_required_tag")
        public static let unsupportedVersion = Code(rawValue: "unsupported_version")
        public static let unsupportedAlgorithm = Code(rawValue: "unsupported_algorithm")
        public static let forbiddenAlgorithm = Code(rawValue: "forbidden_algorithm")
        public static let unsupportedCanonicalization = Code(rawValue: "unsupported_canonicalization")
        public static let unsupportedQueryMethod = Code(rawValue: "unsupported_query_method")
        public static let fromNotSigned = Code(rawValue: "from_not_signed")
        public static let identityMismatch = Code(rawValue: "identity_mismatch")
        public static let signatureExpired = Code(rawValue: "signature_expired")
        /// `x=` not later than `t=`: malformed (RFC 6376 §3.5), not expired.
        public static let expirationNotAfterTimestamp = Code(rawValue: "expiration_not_after_timestamp")
        public static let timestampInFuture = Code(rawValue: "timestamp_in_future")
        public static let bodyLengthTooLarge = Code(rawValue: "body_length_too_large")
        public static let emptySignature = Code(rawValue: "empty_signature")
        public static let tooManySignatures = Code(rawValue: "too_many_signatures")
        // Verification outcomes
        public static let bodyHashMismatch = Code(rawValue: "body_hash_mismatch")
        public static let signatureMismatch = Code(rawValue: "signature_mismatch")
        public static let badBase64 = Code(rawValue: "bad_base64")
        // Keys (RFC 6376 §3.6, §6.1.2; RFC 8301; RFC 8463)
        public static let keyNotFound = Code(rawValue: "key_not_found")
        public static let keyUnavailable = Code(rawValue: "key_unavailable")
        public static let keySyntax = Code(rawValue: "key_syntax")
        public static let keyRevoked = Code(rawValue: "key_revoked")
        public static let keyTooSmall = Code(rawValue: "key_too_small")
        public static let keyTooLarge = Code(rawValue: "key_too_large")
        public static let keyTypeMismatch = Code(rawValue: "key_type_mismatch")
        public static let keyUnusable = Code(rawValue: "key_unusable")
        /// An RSA public exponent that is invalid (even, 1) or too large to verify with (CPU).
        public static let keyExponentUnusable = Code(rawValue: "key_exponent_unusable")
        public static let keyHashNotAllowed = Code(rawValue: "key_hash_not_allowed")
        public static let keyServiceNotAllowed = Code(rawValue: "key_service_not_allowed")
        public static let keyStrictIdentity = Code(rawValue: "key_strict_identity")
        // Messages and signing
        public static let messageFormat = Code(rawValue: "message_format")
        public static let headerTooLarge = Code(rawValue: "header_too_large")
        public static let signingFailed = Code(rawValue: "signing_failed")
        public static let invalidArgument = Code(rawValue: "invalid_argument")
        public static let internalError = Code(rawValue: "internal_error")
    }

    public var code: Code
    public var reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { reason }

    /// The reason's first clause (before the first ": "), for short places such as an
    /// Authentication-Results comment: "body hash mismatch", "no key for signature".
    public var summary: String {
        guard let r = reason.firstRange(of: ": ") else { return reason }
        return String(reason[..<r.lowerBound])
    }

    public static func == (lhs: DKIMError, rhs: DKIMError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
