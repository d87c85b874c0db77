import DKIM

/// What to do at end of headers.
public enum EndOfHeadersAction: Sendable, Equatable {
    /// Go on to the body.
    case `continue`
    /// Go on to the body, and look these key records up meanwhile: their answers are wanted at
    /// end of message (DNS time overlaps the body transfer).
    case lookUp([String])
    /// Nothing to do for this message: accept it, skip the body.
    case accept
}

/// The per-connection state machine: libmilter's callbacks become events here, each returns what
/// to answer, and the end of a message (or its abort) yields a `MessageOutcome`. No I/O: keys are
/// looked up by the caller between `endOfHeaders()` and `endOfMessage(…)`; only
/// `MilterCallbacks.swift` talks to libmilter.
///
/// Not thread-safe by itself: libmilter serializes the callbacks of one connection.
public final class MilterSession {
    /// The policy of the message under way: taken at each MAIL FROM (`envelopeFrom(macros:policy:)`),
    /// so a reload or a key switch reaches connections that Postfix keeps open for many messages.
    public private(set) var policy: MilterPolicy
    private var clientHost: String?
    private var clientAddress: String?
    /// Macros that stay for the whole connection.
    private var connectionMacros: [String: String] = [:]
    private var state = State.idle

    /// A header section larger than this (bytes or fields) is neither signed nor verified; the
    /// message gets `dkim=permerror` and passes on untouched (forged results are still removed).
    public static let maximumHeaderBytes = 4 << 20
    public static let maximumHeaderFields = 10_000

    /// The outcome of the last message that ended (finished or aborted).
    public private(set) var lastOutcome: MessageOutcome?

    /// Where one message is.
    enum State {
        case idle
        /// Between MAIL FROM and the end of the header section.
        case collectingHeaders(MessageContext, HeaderSection)
        /// Ours: the body goes to one signing session per key.
        case signing(MessageContext, SigningJob)
        /// Not ours: the body goes to the verifier; the key records are being looked up.
        case verifying(MessageContext, VerificationSession)
        /// Nothing to sign or verify; at end of message only forged results are removed (and the
        /// permerror of an oversized header section added).
        case passing(MessageContext, headerOverflow: Bool)
        /// Ours, but the key store could not answer: the body is skipped in effect, and the message
        /// gets On-KeyStoreError at its end (tempfail: Postfix tries again later).
        case keyStoreFailed(MessageContext, reason: String)
    }

    /// What every state of a message carries.
    struct MessageContext {
        var macros: [String: String]
        var started: UInt64
        var endOfHeaders: UInt64 = 0
        /// Authentication-Results fields seen, and the 1-based indexes of those claiming our id.
        var resultFields = 0
        var forgedResults: [Int] = []
        var origin: MessageOutcome.Origin?
        var fromAddress: String?
        var fromFieldCount = 1
        var reason = MessageOutcome.Reason.notInternal
        var notes: [String] = []
    }

    struct HeaderSection {
        var fields: [HeaderField] = []
        var bytes = 0
        var overflow = false
    }

    struct SigningJob {
        var sessions: [(key: SigningKey, session: SigningSession)] = []
        /// Our own signatures already on the message (re-injection), checked against our keys.
        var ownCheck: VerificationSession?
        var ownRecords: [String: TXTLookupResult] = [:]
        var setupFailures: [String] = []
    }

    public init(policy: MilterPolicy) {
        self.policy = policy
    }

    // MARK: Events

    /// xxfi_connect: the client's host name and address (nil for a local, non-IP client).
    public func connect(hostname: String?, address: String?) -> MilterReply {
        clientHost = hostname
        clientAddress = address
        return .continue
    }

    /// xxfi_envfrom: a new message; macros such as `{auth_authen}`, `{daemon_name}`, `i`.
    public func envelopeFrom(macros: [String: String], policy newPolicy: MilterPolicy? = nil) -> MilterReply {
        if case .idle = state {} else { _ = abort() }
        if let newPolicy { policy = newPolicy }
        for name in Self.connectionMacroNames { if let v = macros[name] { connectionMacros[name] = v } }
        state = .collectingHeaders(MessageContext(macros: connectionMacros.merging(macros) { $1 },
                                                  started: policy.clock()), HeaderSection())
        return .continue
    }

    /// Macros the MTA sends at any later step.
    public func addMacros(_ macros: [String: String]) {
        guard !macros.isEmpty else { return }
        withContext { $0.macros.merge(macros) { $1 } }
    }

    /// xxfi_header: one field. With leading-space preservation negotiated, `value` is exactly
    /// what followed the colon; folded lines arrive separated by a bare LF (read as CRLF).
    public func header(name: String, value: [UInt8]) -> MilterReply {
        if case .idle = state { _ = envelopeFrom(macros: [:]) }
        guard case .collectingHeaders(var context, var section) = state else { return .continue }
        state = .idle
        defer { state = .collectingHeaders(context, section) }
        // RFC 8601 §5: results claiming our authserv-id are counted on every path, an oversized
        // header section included, so that none survives.
        if name.utf8.count == 22, name.lowercased() == "authentication-results" {
            context.resultFields += 1
            if AuthservID.of(value: value) == policy.authservID.lowercased() {
                context.forgedResults.append(context.resultFields)
            }
        }
        section.bytes += name.utf8.count + value.count + 3
        if section.overflow || section.bytes > Self.maximumHeaderBytes
            || section.fields.count >= Self.maximumHeaderFields {
            section.overflow = true
            section.fields = []
            return .continue
        }
        var bytes = Array(name.utf8)
        bytes.reserveCapacity(bytes.count + value.count + 8)
        bytes.append(UInt8(ascii: ":"))
        var previous: UInt8 = 0
        for b in value {
            if b == 0x0A && previous != 0x0D { bytes.append(0x0D) }
            bytes.append(b)
            previous = b
        }
        section.fields.append(HeaderField(bytes: bytes))
        return .continue
    }

    /// xxfi_eoh: decides to sign, verify or pass, and names the keys to look up.
    public func endOfHeaders() -> EndOfHeadersAction {
        if case .idle = state { _ = envelopeFrom(macros: [:]) }
        guard case .collectingHeaders(var context, let section) = state else { return .continue }
        state = .idle
        context.endOfHeaders = policy.clock()
        let config = policy.configuration
        if section.overflow {
            context.reason = .headerTooLarge
            state = .passing(context, headerOverflow: true)
            return .continue
        }
        let fromFields = section.fields.filter { $0.hasName("from") }
        let address = fromFields.count == 1 ? EmailAddress.address(ofFromValue: fromFields[0].unfoldedValue) : nil
        context.fromAddress = address
        context.fromFieldCount = fromFields.count
        context.origin = config.signs ? origin(context.macros) : nil
        if let origin = context.origin {
            context.reason = origin.reason
            if fromFields.count != 1 {
                context.reason = .fromCount
            } else if let address {
                let keys: [SigningKey]
                do {
                    keys = try policy.keySource.signingKeys(forAuthor: address)
                } catch {
                    context.reason = .keyStoreUnavailable
                    state = .keyStoreFailed(context, reason: error.message)
                    return .continue
                }
                if keys.isEmpty {
                    context.reason = .noKey
                } else {
                    state = .signing(context, startSigning(keys, headers: section.fields))
                    return .continue
                }
            } else {
                context.reason = .noFromAddress
            }
        } else if config.signs {
            context.reason = .notInternal
            // An outside host sending as one of our domains: say how to make it ours, unless listed
            // in ExternalIgnoreList (hosts known to send as us without being signed for).
            if let address, policy.keySource.knownSigningKeys(forAuthor: address)?.isEmpty == false,
               !config.externalIgnoreList.contains(address: clientAddress, hostname: clientHost) {
                context.notes.append("From is \(address), which has a key: "
                    + "if this host is yours, add it to InternalHosts")
            }
        } else {
            context.reason = .verifyOnly
        }
        if config.verifies {
            var session = VerificationSession(configuration: policy.verifierConfiguration, crypto: policy.crypto,
                                              now: policy.now())
            for f in section.fields { session.append(f) }
            let names = session.endOfHeaders()
            state = .verifying(context, session)
            return names.isEmpty ? .continue : .lookUp(names)
        }
        state = .passing(context, headerOverflow: false)
        // Forged results must still be removed at end of message; otherwise the body is not needed.
        return context.forgedResults.isEmpty ? .accept : .continue
    }

    /// xxfi_body: a chunk of the body, CRLF line endings.
    public func body(_ chunk: UnsafeBufferPointer<UInt8>) -> MilterReply {
        switch state {
        case .signing(let context, var job):
            state = .idle
            for i in job.sessions.indices { job.sessions[i].session.appendBody(chunk) }
            job.ownCheck?.appendBody(chunk)
            state = .signing(context, job)
        case .verifying(let context, var session):
            state = .idle
            session.appendBody(chunk)
            state = .verifying(context, session)
        default:
            break
        }
        return .continue
    }

    public func body(_ chunk: [UInt8]) -> MilterReply {
        chunk.withUnsafeBufferPointer { body($0) }
    }

    /// xxfi_eom: the signatures to insert, the Authentication-Results to add or remove, the reply,
    /// and the outcome.
    /// - Parameters:
    ///   - keys: the answers to the lookups `endOfHeaders()` asked for (a name without an answer
    ///     is a temporary failure: its lookup did not finish in time).
    ///   - dnsWait: how long the caller waited for those answers, for the outcome's timings.
    public func endOfMessage(macros: [String: String] = [:], keys: [String: TXTLookupResult] = [:],
                             dnsWait: Double = 0) -> (actions: EndOfMessageActions, outcome: MessageOutcome) {
        if case .idle = state { _ = envelopeFrom(macros: [:]); _ = endOfHeaders() }
        if case .collectingHeaders = state { _ = endOfHeaders() }
        addMacros(macros)
        let finishing = state
        state = .idle
        let started = policy.clock()
        var result: (actions: EndOfMessageActions, outcome: MessageOutcome)
        switch finishing {
        case .signing(let context, let job):
            result = finishSigning(context, job)
        case .verifying(let context, let session):
            result = finishVerifying(context, session, keys: keys)
        case .passing(let context, let overflow):
            result = finishPassing(context, headerOverflow: overflow)
        case .keyStoreFailed(let context, let reason):
            var outcome = makeOutcome(context, decision: .failed)
            outcome.notes.append(reason)
            outcome.reply = policy.configuration.onKeyStoreError.reply
            outcome.policyAction = (.onKeyStoreError, policy.configuration.onKeyStoreError)
            result = (EndOfMessageActions(modifications: removals(context), reply: outcome.reply), outcome)
        case .idle, .collectingHeaders:
            result = finishPassing(MessageContext(macros: macros, started: started), headerOverflow: false)
        }
        let context = Self.context(of: finishing)
        let ended = policy.clock()
        result.outcome.timings = MessageOutcome.Timings(
            headers: Self.seconds(context.map { $0.endOfHeaders - $0.started } ?? 0),
            body: Self.seconds(context.map { started >= $0.endOfHeaders ? started - $0.endOfHeaders : 0 } ?? 0),
            dnsWait: dnsWait, crypto: Self.seconds(ended - started))
        lastOutcome = result.outcome
        return result
    }

    /// The MTA was answered ACCEPT at end of headers (`EndOfHeadersAction.accept`): it sends neither
    /// the body nor the end of message (milter protocol, SMFIR_ACCEPT), so the message ends here,
    /// passed untouched, and its outcome is this one, not an abort when the connection closes.
    /// - Returns: its outcome, or nil when no message was waiting to pass.
    public func acceptedAtEndOfHeaders() -> MessageOutcome? {
        guard case .passing(let context, let overflow) = state else { return nil }
        state = .idle
        var outcome = finishPassing(context, headerOverflow: overflow).outcome
        outcome.timings = MessageOutcome.Timings(headers: Self.seconds(context.endOfHeaders - context.started),
                                                 body: 0, dnsWait: 0, crypto: 0)
        lastOutcome = outcome
        return outcome
    }

    /// xxfi_abort (or a connection closed in the middle of a message): the message is dropped.
    /// - Returns: its outcome, or nil when no message was under way.
    @discardableResult
    public func abort() -> MessageOutcome? {
        guard let context = Self.context(of: state) else { return nil }
        state = .idle
        var outcome = makeOutcome(context, decision: .aborted)
        outcome.reason = .aborted
        outcome.reply = .continue
        lastOutcome = outcome
        return outcome
    }

    // MARK: Deciding

    private static let connectionMacroNames = ["j", "{daemon_name}", "{if_name}", "{if_addr}", "_", "{client_addr}"]

    private var clientDescription: String {
        switch (clientHost, clientAddress) {
        case let (h?, a?) where h != a && !h.hasPrefix("["): "\(h) [\(a)]"
        case let (_, a?): a
        case let (h?, nil): h
        default: "a local client"
        }
    }

    /// Why the client's mail is ours to sign, or nil when it is not. Only the MTA's macros and
    /// the client address count, never what the message says about itself.
    private func origin(_ macros: [String: String]) -> MessageOutcome.Origin? {
        if let user = macros["{auth_authen}"], !user.isEmpty { return .authenticated(user: user) }
        if let type = macros["{auth_type}"], !type.isEmpty { return .authenticatedWithoutUser(type: type) }
        if let daemon = macros["{daemon_name}"], policy.configuration.signingDaemonNames.contains(daemon) {
            return .daemon(name: daemon)
        }
        if policy.configuration.internalHosts.contains(address: clientAddress, hostname: clientHost) {
            return .internalHost(client: clientDescription)
        }
        return nil
    }

    private func startSigning(_ keys: [SigningKey], headers: [HeaderField]) -> SigningJob {
        let config = policy.configuration
        var job = SigningJob()
        // Re-injection after a content filter: our own valid signature is not made twice.
        let existing = headers.filter { $0.hasName("dkim-signature") }.compactMap { try? DKIMSignature(parsing: $0) }
        for k in keys where existing.contains(where: {
            $0.domain.lowercased() == k.domain && $0.selector == k.selector
        }) {
            job.ownRecords[Self.keyName(k)] =
                .records([KeyRecord(keyType: k.key.keyType, publicKeyData: k.key.publicKeyData).txtValue])
        }
        if !job.ownRecords.isEmpty {
            var check = VerificationSession(configuration: policy.verifierConfiguration, crypto: policy.crypto,
                                            now: policy.now())
            for f in headers { check.append(f) }
            _ = check.endOfHeaders()
            job.ownCheck = check
        }
        let names = config.signHeaders.map { names in
            names.flatMap { name in
                Array(repeating: name, count: max(1, headers.filter { $0.hasName(name) }.count))
            } + (config.oversignHeaders ?? ["from"])
        } ?? oversigned(SignerConfiguration.defaultHeaderNames(for: headers), extra: config.oversignHeaders)
        for k in keys {
            let configuration = SignerConfiguration(
                domain: k.domain, selector: k.selector, canonicalization: config.canonicalization,
                signedHeaderNames: names, timestamp: policy.now(), copiesHeaderFields: config.diagnostics)
            do {
                var session = try SigningSession(configuration: configuration, key: k.key, crypto: policy.crypto)
                for f in headers { session.append(f) }
                session.endOfHeaders()
                job.sessions.append((k, session))
            } catch {
                job.setupFailures.append("cannot sign with \(k.path): \(error.reason)")
            }
        }
        return job
    }

    private func oversigned(_ names: [String], extra: [String]?) -> [String] {
        guard let extra else { return names }
        var out = names
        for name in extra where !SignerConfiguration.oversignedHeaderNames.contains(name) { out.append(name) }
        return out
    }

    private static func keyName(_ k: SigningKey) -> String {
        "\(k.selector)._domainkey.\(k.domain)".lowercased()
    }

    // MARK: Finishing

    private func finishSigning(_ context: MessageContext, _ job: SigningJob)
        -> (actions: EndOfMessageActions, outcome: MessageOutcome) {
        var job = job
        var outcome = makeOutcome(context, decision: .signed)
        outcome.notes += job.setupFailures
        var alreadySigned = Set<String>()
        if var check = job.ownCheck {
            let records = job.ownRecords
            for v in check.finish(keys: { records[$0] ?? .nameNotFound }) where v.result.isPass {
                alreadySigned.insert("\(v.selector ?? "")._domainkey.\(v.domain ?? "")".lowercased())
            }
        }
        var fields: [HeaderField] = []
        var failed = !job.setupFailures.isEmpty
        for i in job.sessions.indices {
            let k = job.sessions[i].key
            if alreadySigned.contains(Self.keyName(k)) {
                outcome.notes.append("already signed by \(k.domain) s=\(k.selector), not signed again")
                continue
            }
            do {
                fields.append(try job.sessions[i].session.finish())
                outcome.signaturesMade.append(MessageOutcome.SignatureMade(
                    domain: k.domain, selector: k.selector, algorithm: k.algorithm, keyBits: k.key.bitCount))
            } catch {
                outcome.notes.append("signing with \(k.path) failed: \(error.reason)")
                failed = true
            }
        }
        var modifications = removals(context)
        // RFC 6376 §5.6: new signatures go above existing ones; the first key ends on top.
        modifications += fields.reversed().map { field in
            HeaderModification.insert(index: 0, name: "DKIM-Signature", value: Self.milterValue(of: field))
        }
        if fields.isEmpty {
            if failed {
                outcome.decision = .failed
                outcome.reason = .signingFailed
                outcome.reply = policy.configuration.onInternalError.reply
                outcome.policyAction = (.onInternalError, policy.configuration.onInternalError)
                return (EndOfMessageActions(reply: outcome.reply), outcome)
            }
            outcome.decision = .passed
            outcome.reason = .alreadySigned
        }
        outcome.reply = .accept
        return (EndOfMessageActions(modifications: modifications, reply: .accept), outcome)
    }

    private func finishVerifying(_ context: MessageContext, _ session: VerificationSession,
                                 keys: [String: TXTLookupResult])
        -> (actions: EndOfMessageActions, outcome: MessageOutcome) {
        var session = session
        let results = session.finish { keys[$0] ?? .temporaryFailure(reason: "the lookup did not finish in time") }
        var outcome = makeOutcome(context, decision: .verified)
        outcome.verifications = results
        var modifications = removals(context)
        if !results.isEmpty || policy.configuration.alwaysAddARHeader {
            let value = AuthenticationResults.value(authservID: policy.authservID, results: results)
            modifications.append(.insert(index: 0, name: "Authentication-Results", value: value.replacingCRLF()))
            outcome.addedAuthenticationResults = true
        }
        if let (option, action) = policyAction(for: results) {
            outcome.policyAction = (option, action)
            outcome.reply = action.reply
        } else {
            outcome.reply = .accept
        }
        return (EndOfMessageActions(modifications: modifications, reply: outcome.reply), outcome)
    }

    private func finishPassing(_ context: MessageContext, headerOverflow: Bool)
        -> (actions: EndOfMessageActions, outcome: MessageOutcome) {
        var outcome = makeOutcome(context, decision: .passed)
        var modifications = removals(context)
        if headerOverflow && policy.configuration.verifies {
            let tooLarge = SignatureVerification(
                index: 1, result: .permError(DKIMError(.headerTooLarge, "header section too large")))
            let value = AuthenticationResults.value(authservID: policy.authservID, results: [tooLarge])
            modifications.append(.insert(index: 0, name: "Authentication-Results", value: value.replacingCRLF()))
            outcome.addedAuthenticationResults = true
        }
        return (EndOfMessageActions(modifications: modifications, reply: .accept), outcome)
    }

    /// RFC 8601 §5: remove results that claim our authserv-id, highest index first so the
    /// MTA's renumbering after each deletion does not shift the ones still to delete.
    private func removals(_ context: MessageContext) -> [HeaderModification] {
        context.forgedResults.sorted(by: >).map { .delete(name: "Authentication-Results", index: $0) }
    }

    /// The configured action for the results (OpenDKIM's On-… options); nil when one passed.
    private func policyAction(for results: [SignatureVerification]) -> (MessageOutcome.PolicyOption, ResultAction)? {
        let c = policy.configuration
        if results.isEmpty { return (.onNoSignature, c.onNoSignature) }
        if results.contains(where: { $0.result.isPass }) { return nil }
        if results.contains(where: { if case .tempError = $0.result { true } else { false } }) {
            return (.onDNSError, c.onDNSError)
        }
        if results.contains(where: { $0.result.error?.code == .keyNotFound }) {
            return (.onKeyNotFound, c.onKeyNotFound)
        }
        if results.contains(where: { if case .fail = $0.result { true } else { false } }) {
            return (.onBadSignature, c.onBadSignature)
        }
        return (.onSignatureError, c.onSignatureError)
    }

    private func makeOutcome(_ context: MessageContext, decision: MessageOutcome.Decision) -> MessageOutcome {
        MessageOutcome(queueID: context.macros["i"] ?? "NOQUEUE", client: clientDescription, decision: decision,
                       reason: context.reason, origin: context.origin, fromAddress: context.fromAddress,
                       fromFieldCount: context.fromFieldCount, forgedResultsRemoved: context.forgedResults.count,
                       notes: context.notes)
    }

    // MARK: Helpers

    private func withContext(_ body: (inout MessageContext) -> Void) {
        switch state {
        case .idle: break
        case .collectingHeaders(var c, let s): state = .idle; body(&c); state = .collectingHeaders(c, s)
        case .signing(var c, let j): state = .idle; body(&c); state = .signing(c, j)
        case .verifying(var c, let v): state = .idle; body(&c); state = .verifying(c, v)
        case .passing(var c, let o): body(&c); state = .passing(c, headerOverflow: o)
        case .keyStoreFailed(var c, let r): body(&c); state = .keyStoreFailed(c, reason: r)
        }
    }

    private static func context(of state: State) -> MessageContext? {
        switch state {
        case .idle: nil
        case .collectingHeaders(let c, _), .signing(let c, _), .verifying(let c, _), .passing(let c, _),
             .keyStoreFailed(let c, _): c
        }
    }

    private static func seconds(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1e9 }

    /// A header value as libmilter takes it: leading space kept, folded lines joined by LF.
    static func milterValue(of field: HeaderField) -> String {
        String(decoding: field.rawValue, as: UTF8.self).replacingCRLF()
    }
}

extension String {
    func replacingCRLF() -> String {
        String(decoding: Array(utf8).filter { $0 != 0x0D }, as: UTF8.self)
    }
}
