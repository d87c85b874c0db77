import DKIM

/// What the milter did with one message and why: the one record that the log line, the JSON log,
/// the metrics and the tests all read. Made at end of message, and for aborted messages too.
public struct MessageOutcome: Sendable, Equatable {
    /// What happened to the message.
    public enum Decision: String, Sendable, CaseIterable, Codable {
        /// We added at least one signature.
        case signed
        /// We verified its signatures (or found none) and added Authentication-Results.
        case verified
        /// Neither signed nor verified: passed on (only forged results removed, if any).
        case passed
        /// Our own failure: the configured On-InternalError reply (tempfail by default) was given.
        case failed
        /// The MTA aborted the message, or the connection ended in the middle of it.
        case aborted
    }

    /// Why: for signed mail, why the client's mail is ours; otherwise why it was not signed.
    public enum Reason: String, Sendable, CaseIterable, Codable {
        /// SMTP AUTH: the `{auth_authen}` or `{auth_type}` macro was set.
        case authenticated
        /// The `{daemon_name}` macro is listed in SigningDaemonNames (Postfix milter_macro_daemon_name).
        case daemonName = "daemon_name"
        /// The client is in InternalHosts.
        case internalHost = "internal_host"
        /// Ours, but no key for the From domain.
        case noKey = "no_key"
        /// Ours, but the message has no From field or several.
        case fromCount = "from_count"
        /// Ours, but From holds no single address.
        case noFromAddress = "no_from_address"
        /// Ours, re-injected: our own valid signature is already on it.
        case alreadySigned = "already_signed"
        /// Ours, but every signing attempt failed.
        case signingFailed = "signing_failed"
        /// Ours, but the key store (a database) could not say which keys sign, in time.
        case keyStoreUnavailable = "key_store_unavailable"
        /// The client is neither internal nor authenticated: its mail is never signed.
        case notInternal = "not_internal"
        /// Mode v: the milter does not sign at all.
        case verifyOnly = "verify_only"
        /// The header section exceeded the milter's limits.
        case headerTooLarge = "header_too_large"
        /// The message was aborted.
        case aborted
    }

    /// Why the client's mail is ours to sign.
    public enum Origin: Sendable, Equatable {
        case authenticated(user: String)
        case authenticatedWithoutUser(type: String)
        case daemon(name: String)
        case internalHost(client: String)

        var reason: Reason {
            switch self {
            case .authenticated, .authenticatedWithoutUser: .authenticated
            case .daemon: .daemonName
            case .internalHost: .internalHost
            }
        }
    }

    /// The On-… option whose action decided the reply (OpenDKIM's names).
    public enum PolicyOption: String, Sendable, CaseIterable, Codable {
        case onBadSignature = "On-BadSignature"
        case onDNSError = "On-DNSError"
        case onKeyNotFound = "On-KeyNotFound"
        case onNoSignature = "On-NoSignature"
        case onSignatureError = "On-SignatureError"
        case onInternalError = "On-InternalError"
        case onKeyStoreError = "On-KeyStoreError"
    }

    /// A signature we added.
    public struct SignatureMade: Sendable, Equatable {
        public var domain: String
        public var selector: String
        public var algorithm: SignatureAlgorithm
        public var keyBits: Int

        public init(domain: String, selector: String, algorithm: SignatureAlgorithm, keyBits: Int) {
            self.domain = domain
            self.selector = selector
            self.algorithm = algorithm
            self.keyBits = keyBits
        }
    }

    /// Where the time went, in seconds (monotonic clock).
    public struct Timings: Sendable, Equatable {
        /// From MAIL FROM to the end of the header section.
        public var headers: Double = 0
        /// From the end of the header section to the end of the message.
        public var body: Double = 0
        /// Waiting at end of message for key lookups still under way.
        public var dnsWait: Double = 0
        /// Hashing the rest and making or checking signatures at end of message.
        public var crypto: Double = 0
    }

    /// The MTA's queue id (macro `i`), or NOQUEUE.
    public var queueID: String
    /// The client, as "host [address]".
    public var client: String
    public var decision: Decision
    public var reason: Reason
    /// Why the client's mail is ours (nil for outside clients and in Mode v).
    public var origin: Origin?
    /// The From address, when there was exactly one.
    public var fromAddress: String?
    /// How many From fields the message has (RFC 5322 allows one).
    public var fromFieldCount = 1
    /// Signatures added.
    public var signaturesMade: [SignatureMade] = []
    /// Each signature verified (for verified mail).
    public var verifications: [SignatureVerification] = []
    /// Authentication-Results fields with our authserv-id that were removed (RFC 8601 §5).
    public var forgedResultsRemoved = 0
    /// Whether we added an Authentication-Results field.
    public var addedAuthenticationResults = false
    /// The final reply to the MTA.
    public var reply: MilterReply = .accept
    /// The On-… option that chose the reply, when one did.
    public var policyAction: (option: PolicyOption, action: ResultAction)?
    /// Remarks for people: a key that failed, a signature not made twice, how to make a host ours.
    public var notes: [String] = []
    public var timings = Timings()

    public init(queueID: String, client: String, decision: Decision, reason: Reason, origin: Origin? = nil,
                fromAddress: String? = nil, fromFieldCount: Int = 1, signaturesMade: [SignatureMade] = [],
                forgedResultsRemoved: Int = 0, notes: [String] = []) {
        self.queueID = queueID
        self.client = client
        self.decision = decision
        self.reason = reason
        self.origin = origin
        self.fromAddress = fromAddress
        self.fromFieldCount = fromFieldCount
        self.signaturesMade = signaturesMade
        self.forgedResultsRemoved = forgedResultsRemoved
        self.notes = notes
    }

    public static func == (a: MessageOutcome, b: MessageOutcome) -> Bool {
        a.queueID == b.queueID && a.client == b.client && a.decision == b.decision && a.reason == b.reason
            && a.origin == b.origin && a.fromAddress == b.fromAddress && a.fromFieldCount == b.fromFieldCount
            && a.signaturesMade == b.signaturesMade
            && a.verifications.map(\.result) == b.verifications.map(\.result)
            && a.forgedResultsRemoved == b.forgedResultsRemoved
            && a.addedAuthenticationResults == b.addedAuthenticationResults && a.reply == b.reply
            && a.policyAction?.option == b.policyAction?.option && a.policyAction?.action == b.policyAction?.action
            && a.notes == b.notes
    }
}
