import DKIM
import Dispatch

/// The per-connection state machine: libmilter's callbacks become calls here, and each call
/// returns what to answer. Only `MilterCallbacks.swift` talks to libmilter.
///
/// Not thread-safe by itself: libmilter serializes the callbacks of one connection.
public final class MilterSession {
    public let policy: MilterPolicy
    private var clientAddress: String?
    private var clientHost: String?

    // Per message.
    private var macros: [String: String] = [:]
    private var headers: [HeaderField] = []
    private var forgedResultIndexes: [Int] = []
    private var resultFieldCount = 0
    private var signing: [(key: SigningKey, session: SigningSession)] = []
    private var verifying: VerificationSession?
    private var ownCheck: VerificationSession?
    private var lookups: KeyLookups?
    private var decision = ""
    private var failed: String?
    private var headerBytes = 0
    private var headerOverflow = false

    /// A header section larger than this (bytes or fields) is neither signed nor verified; the
    /// message gets `dkim=permerror` and passes on untouched.
    public static let maximumHeaderBytes = 4 << 20
    public static let maximumHeaderFields = 10_000

    /// The log line of the last finished message.
    public private(set) var lastLogLine: String?

    public init(policy: MilterPolicy) {
        self.policy = policy
    }

    // MARK: Connection

    /// xxfi_connect: the client's host name and address (nil for a local, non-IP client).
    public func connect(hostname: String?, address: String?) -> MilterReply {
        clientHost = hostname
        clientAddress = address
        return .continue
    }

    /// xxfi_envfrom: a new message; macros such as `{auth_authen}`, `{daemon_name}`, `i`.
    public func envelopeFrom(macros: [String: String]) -> MilterReply {
        resetMessage()
        self.macros.merge(macros) { $1 }
        return .continue
    }

    /// Macros the MTA sends at any later step.
    public func addMacros(_ macros: [String: String]) {
        self.macros.merge(macros) { $1 }
    }

    /// xxfi_header: one field. With leading-space preservation negotiated, `value` is exactly
    /// what followed the colon; folded lines arrive separated by a bare LF (read as CRLF).
    public func header(name: String, value: [UInt8]) -> MilterReply {
        var bytes = Array(name.utf8)
        bytes.reserveCapacity(bytes.count + value.count + 8)
        bytes.append(UInt8(ascii: ":"))
        var previous: UInt8 = 0
        for b in value {
            if b == 0x0A && previous != 0x0D { bytes.append(0x0D) }
            bytes.append(b)
            previous = b
        }
        headerBytes += bytes.count + 2
        if headerOverflow || headerBytes > Self.maximumHeaderBytes || headers.count >= Self.maximumHeaderFields {
            headerOverflow = true
            return .continue
        }
        let field = HeaderField(bytes: bytes)
        if field.hasName("authentication-results") {
            resultFieldCount += 1
            if AuthservID.of(field) == policy.authservID.lowercased() { forgedResultIndexes.append(resultFieldCount) }
        }
        headers.append(field)
        return .continue
    }

    /// xxfi_eoh: decides to sign or verify, and starts the key lookups.
    public func endOfHeaders() -> MilterReply {
        let config = policy.configuration
        if headerOverflow {
            decision = "not signing, not verifying: the header section is larger than \(Self.maximumHeaderBytes) bytes or \(Self.maximumHeaderFields) fields"
            headers = []
            return .continue
        }
        let fromFields = headers.filter { $0.hasName("from") }
        let ours = clientIsOurs()
        if config.signs, let why = ours {
            if fromFields.count != 1 {
                decision = "not signing: the message has \(fromFields.count) From fields (\(why))"
            } else if let address = EmailAddress.address(ofFromValue: fromFields[0].unfoldedValue) {
                let keys = policy.keys.keys(forAuthor: address)
                if keys.isEmpty {
                    decision = "not signing: no key for \(address) (\(why))"
                } else {
                    startSigning(keys, why: why)
                }
            } else {
                decision = "not signing: no single address in From (\(why))"
            }
        } else if config.signs {
            decision = "not signing: \(clientDescription) is not internal and not authenticated"
            // An outside host sending as one of our domains: say how to make it ours, unless listed
            // in ExternalIgnoreList (hosts known to send as us without being signed for).
            if fromFields.count == 1, let address = EmailAddress.address(ofFromValue: fromFields[0].unfoldedValue),
               !policy.keys.keys(forAuthor: address).isEmpty,
               !config.externalIgnoreList.contains(address: clientAddress, hostname: clientHost) {
                decision += " (From is \(address), which has a key: if this host is yours, add it to InternalHosts)"
            }
        }
        if signing.isEmpty && config.verifies {
            var session = VerificationSession(configuration: policy.verifierConfiguration, crypto: policy.crypto, now: policy.now())
            for f in headers { session.append(f) }
            let names = session.endOfHeaders()
            verifying = session
            lookups = KeyLookups(names: names, resolver: policy.resolver)
            decision += decision.isEmpty ? "verifying" : "; verifying"
        } else if signing.isEmpty {
            headers = []
            return .accept
        }
        headers = []
        return .continue
    }

    /// xxfi_body: a chunk of the body, CRLF line endings.
    public func body(_ chunk: UnsafeBufferPointer<UInt8>) -> MilterReply {
        for i in signing.indices { signing[i].session.appendBody(chunk) }
        verifying?.appendBody(chunk)
        ownCheck?.appendBody(chunk)
        return .continue
    }

    public func body(_ chunk: [UInt8]) -> MilterReply {
        chunk.withUnsafeBufferPointer { body($0) }
    }

    /// xxfi_eom: the signatures to insert, the Authentication-Results to add or remove, the reply.
    public func endOfMessage(macros: [String: String] = [:]) -> EndOfMessageActions {
        self.macros.merge(macros) { $1 }
        defer { resetMessage() }
        var actions = EndOfMessageActions()
        let queueID = self.macros["i"] ?? "NOQUEUE"
        if !signing.isEmpty {
            actions = finishSigning()
        } else if verifying != nil {
            actions = finishVerifying()
        } else if headerOverflow && policy.configuration.verifies {
            let tooLarge = SignatureVerification(index: 1, result: .permError(DKIMError(.headerTooLarge, "header section too large")))
            let value = AuthenticationResults.value(authservID: policy.authservID, results: [tooLarge])
            actions = EndOfMessageActions(modifications: [.insert(index: 0, name: "Authentication-Results", value: value.replacingCRLF())])
        }
        lastLogLine = "\(queueID): \(decision)"
        return actions
    }

    /// xxfi_abort: the message is dropped; the connection stays.
    public func abort() {
        resetMessage()
    }

    // MARK: Steps

    private var clientDescription: String {
        switch (clientHost, clientAddress) {
        case let (h?, a?) where h != a && !h.hasPrefix("["): "client \(h) [\(a)]"
        case let (_, a?): "client \(a)"
        case let (h?, nil): "client \(h)"
        default: "a local client"
        }
    }

    /// Why the client's mail is ours to sign, or nil when it is not.
    private func clientIsOurs() -> String? {
        if let user = macros["{auth_authen}"], !user.isEmpty { return "authenticated as \(user)" }
        if let type = macros["{auth_type}"], !type.isEmpty { return "authenticated (\(type))" }
        if let daemon = macros["{daemon_name}"], policy.configuration.signingDaemonNames.contains(daemon) {
            return "submitted through \(daemon)"
        }
        if policy.configuration.internalHosts.contains(address: clientAddress, hostname: clientHost) {
            return "\(clientDescription) is internal"
        }
        return nil
    }

    private func startSigning(_ keys: [SigningKey], why: String) {
        let config = policy.configuration
        // Re-injection after a content filter: our own valid signature is not made twice.
        let existing = headers.filter { $0.hasName("dkim-signature") }.compactMap { try? DKIMSignature(parsing: $0) }
        var candidates: [SigningKey] = []
        var ownRecords: [String: TXTLookupResult] = [:]
        for k in keys {
            if existing.contains(where: { $0.domain.lowercased() == k.domain && $0.selector == k.selector }) {
                ownRecords["\(k.selector)._domainkey.\(k.domain)".lowercased()] =
                    .records([KeyRecord(keyType: k.key.keyType, publicKeyData: k.key.publicKeyData).txtValue])
            }
            candidates.append(k)
        }
        if !ownRecords.isEmpty {
            var check = VerificationSession(configuration: policy.verifierConfiguration, crypto: policy.crypto, now: policy.now())
            for f in headers { check.append(f) }
            _ = check.endOfHeaders()
            ownCheck = check
            ownCheckRecords = ownRecords
        }
        let names = config.signHeaders.map { names in
            names.flatMap { name in
                Array(repeating: name, count: max(1, headers.filter { $0.hasName(name) }.count))
            } + (config.oversignHeaders ?? ["from"])
        } ?? oversigned(SignerConfiguration.defaultHeaderNames(for: headers), extra: config.oversignHeaders)
        for k in candidates {
            let configuration = SignerConfiguration(
                domain: k.domain, selector: k.selector, canonicalization: config.canonicalization,
                signedHeaderNames: names, timestamp: policy.now())
            do {
                var session = try SigningSession(configuration: configuration, key: k.key, crypto: policy.crypto)
                for f in headers { session.append(f) }
                session.endOfHeaders()
                signing.append((k, session))
            } catch {
                failed = "cannot sign with \(k.path): \(error.reason)"
            }
        }
        decision = "signing " + candidates.map { "\($0.domain) with s=\($0.selector) (\($0.algorithm.rawValue))" }
            .joined(separator: " and ") + ": \(why)"
    }

    private var ownCheckRecords: [String: TXTLookupResult] = [:]

    private func oversigned(_ names: [String], extra: [String]?) -> [String] {
        guard let extra else { return names }
        var out = names
        for name in extra where !SignerConfiguration.oversignedHeaderNames.contains(name) { out.append(name) }
        return out
    }

    private func finishSigning() -> EndOfMessageActions {
        var alreadySigned = Set<String>()
        if var check = ownCheck {
            for v in check.finish(keys: { self.ownCheckRecords[$0] ?? .nameNotFound }) where v.result.isPass {
                alreadySigned.insert("\(v.selector ?? "")._domainkey.\(v.domain ?? "")".lowercased())
            }
        }
        var fields: [HeaderField] = []
        var notes: [String] = []
        for i in signing.indices {
            let k = signing[i].key
            if alreadySigned.contains("\(k.selector)._domainkey.\(k.domain)".lowercased()) {
                notes.append("already signed by \(k.domain) s=\(k.selector), not signed again")
                continue
            }
            do {
                fields.append(try signing[i].session.finish())
            } catch {
                notes.append("signing with \(k.path) failed: \(error.reason)")
                failed = error.reason
            }
        }
        if !notes.isEmpty { decision += "; " + notes.joined(separator: "; ") }
        if failed != nil && fields.isEmpty {
            return EndOfMessageActions(reply: policy.configuration.onInternalError.reply)
        }
        // RFC 6376 §5.6: new signatures go above existing ones; the first key ends on top.
        let modifications = fields.reversed().map { field in
            HeaderModification.insert(index: 0, name: "DKIM-Signature", value: Self.milterValue(of: field))
        }
        return EndOfMessageActions(modifications: modifications, reply: .accept)
    }

    private func finishVerifying() -> EndOfMessageActions {
        guard var session = verifying else { return EndOfMessageActions() }
        let answers = lookups?.wait() ?? [:]
        let results = session.finish { answers[$0] ?? .temporaryFailure(reason: "no lookup was made") }
        var modifications: [HeaderModification] = []
        // RFC 8601 §5: remove results that claim our authserv-id, highest index first so the
        // MTA's renumbering after each deletion does not shift the ones still to delete.
        for index in forgedResultIndexes.sorted(by: >) {
            modifications.append(.delete(name: "Authentication-Results", index: index))
        }
        if !forgedResultIndexes.isEmpty {
            decision += "; removed \(forgedResultIndexes.count) forged Authentication-Results"
        }
        if !results.isEmpty || policy.configuration.alwaysAddARHeader {
            let value = AuthenticationResults.value(authservID: policy.authservID, results: results)
            modifications.append(.insert(index: 0, name: "Authentication-Results", value: value.replacingCRLF()))
        }
        decision += results.isEmpty ? ": no signature" : ": " + results.map {
            "d=\($0.domain ?? "-") s=\($0.selector ?? "-") \($0.result.word)" + ($0.result.isPass ? "" : " (\($0.reason))")
        }.joined(separator: ", ")
        return EndOfMessageActions(modifications: modifications, reply: reply(for: results))
    }

    /// The configured action for the outcome (OpenDKIM's On-… options); a pass accepts.
    private func reply(for results: [SignatureVerification]) -> MilterReply {
        let c = policy.configuration
        if results.isEmpty { return c.onNoSignature.reply }
        if results.contains(where: { $0.result.isPass }) { return .accept }
        let codes = results.compactMap { $0.result.error?.code }
        if results.contains(where: { $0.result.word == "temperror" }) { return c.onDNSError.reply }
        if codes.contains(.keyNotFound) { return c.onKeyNotFound.reply }
        if results.contains(where: { $0.result.word == "fail" }) { return c.onBadSignature.reply }
        return c.onSignatureError.reply
    }

    private func resetMessage() {
        macros = macros.filter { ["j", "{daemon_name}", "{if_name}", "{if_addr}", "_", "{client_addr}"].contains($0.key) }
        headers = []
        forgedResultIndexes = []
        resultFieldCount = 0
        signing = []
        verifying = nil
        ownCheck = nil
        ownCheckRecords = [:]
        lookups = nil
        decision = ""
        failed = nil
        headerBytes = 0
        headerOverflow = false
    }

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

/// Key lookups started at end of headers on other threads, so DNS time overlaps the body.
final class KeyLookups: @unchecked Sendable {
    private let group = DispatchGroup()
    private let lock = NSLockLike()
    private var results: [String: TXTLookupResult] = [:]

    init(names: [String], resolver: any TXTResolver) {
        let immediate = resolver as? any ImmediateTXTResolver
        for name in names {
            // A table or a warm cache answers at once: no thread hop for it.
            if let answer = immediate?.immediateLookupTXT(name) {
                results[name] = answer
                continue
            }
            group.enter()
            DispatchQueue.global().async {
                let r = resolver.lookupTXT(name)
                self.lock.withLock { self.results[name] = r }
                self.group.leave()
            }
        }
    }

    func wait() -> [String: TXTLookupResult] {
        group.wait()
        return lock.withLock { results }
    }
}
