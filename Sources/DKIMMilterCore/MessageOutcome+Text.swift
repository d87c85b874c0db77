import DKIM

extension MessageOutcome {
    /// The one-line log text: `QUEUEID: what was done: why`, every untrusted piece escaped
    /// (`Printable.escaped`), so a message can never add a line to the log or colour a terminal.
    public var logLine: String {
        var parts: [String] = []
        switch decision {
        case .signed:
            parts.append("signing "
                + signaturesMade.map { "\(e($0.domain)) with s=\(e($0.selector)) (\($0.algorithm.rawValue))" }
                    .joined(separator: " and ") + ": " + originText)
        case .failed where reason == .keyStoreUnavailable:
            parts.append("not signed, replied \(replyWord): the key store could not answer in time (\(originText))")
        case .failed:
            parts.append("not signed, replied \(replyWord): every signing attempt failed (\(originText))")
        case .verified, .passed:
            if let not = notSignedText { parts.append(not) }
            if decision == .verified {
                parts.append(verifications.isEmpty ? "verifying: no signature" : "verifying: " + verifications.map {
                    "d=\(e($0.domain ?? "-")) s=\(e($0.selector ?? "-")) \($0.result.word)"
                        + ($0.result.isPass ? "" : " (\(e($0.reason)))")
                }.joined(separator: ", "))
            }
        case .aborted:
            parts.append("aborted before end of message")
        }
        if forgedResultsRemoved > 0 { parts.append("removed \(forgedResultsRemoved) forged Authentication-Results") }
        if let (option, action) = policyAction, decision == .verified, action != .accept {
            parts.append("\(option.rawValue): \(action.rawValue)")
        }
        parts += notes.map(e)
        return "\(e(queueID)): " + parts.joined(separator: "; ")
    }

    private func e(_ text: String) -> String { Printable.escaped(text, limit: 300) }

    private var replyWord: String { Self.replyWord(reply) }

    /// Why the client's mail is ours, in words.
    var originText: String {
        switch origin {
        case .authenticated(let user): "authenticated as \(e(user))"
        case .authenticatedWithoutUser(let type): "authenticated (\(e(type)))"
        case .daemon(let name): "submitted through \(e(name))"
        case .internalHost(let client): "client \(e(client)) is internal"
        case nil: "client \(e(client)) is not internal and not authenticated"
        }
    }

    /// Why the message was not signed, in words; nil when signing was not in question (Mode v).
    var notSignedText: String? {
        switch reason {
        case .notInternal: "not signing: \(originText)"
        case .noKey: "not signing: no key for \(e(fromAddress ?? "the From domain")) (\(originText))"
        case .fromCount: "not signing: the message has \(fromFieldCount) From fields (\(originText))"
        case .noFromAddress: "not signing: no single address in From (\(originText))"
        case .alreadySigned: "not signing: already signed (\(originText))"
        case .headerTooLarge:
            "not signing, not verifying: the header section is larger than \(MilterSession.maximumHeaderBytes) bytes "
                + "or \(MilterSession.maximumHeaderFields) fields"
        case .verifyOnly, .authenticated, .daemonName, .internalHost, .signingFailed, .keyStoreUnavailable,
             .aborted: nil
        }
    }
}
