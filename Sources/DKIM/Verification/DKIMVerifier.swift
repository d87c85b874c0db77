/// Verifies a whole message held in memory, looking keys up through a resolver.
/// The milter uses `VerificationSession` directly; this is for tools and tests.
public struct DKIMVerifier: Sendable {
    public var configuration: VerifierConfiguration
    public let resolver: any TXTResolver
    public let crypto: any DKIMCryptoProvider

    public init(configuration: VerifierConfiguration = .init(), resolver: any TXTResolver, crypto: any DKIMCryptoProvider) {
        self.configuration = configuration
        self.resolver = resolver
        self.crypto = crypto
    }

    /// Verifies every signature of a message.
    /// - Parameters:
    ///   - message: the raw message; bare-LF input is detected and read as CRLF.
    ///   - now: the current time, seconds since the epoch.
    public func verify(message: [UInt8], now: Int) throws(DKIMError) -> MessageVerification {
        var session = VerificationSession(configuration: configuration, crypto: crypto, now: now)
        var from: [HeaderField] = []
        var names: [String] = []
        func handle(_ event: MessageParser.Event) {
            switch event {
            case .header(let f):
                if f.hasName("from") { from.append(f) }
                session.append(f)
            case .endOfHeaders: names = session.endOfHeaders()
            case .body(let chunk): session.appendBody(chunk)
            }
        }
        try MessageParser.parseWhole(message, handle)
        var answers: [String: TXTLookupResult] = [:]
        for name in names { answers[name] = resolver.lookupTXT(name) }
        let results = session.finish { answers[$0] ?? .nameNotFound }
        return MessageVerification(signatures: results, fromFields: from)
    }
}

/// The verification of a whole message.
public struct MessageVerification: Sendable {
    /// One entry per DKIM-Signature field, topmost first; empty for an unsigned message.
    public var signatures: [SignatureVerification]
    /// The message's From fields (RFC 5322 allows one; more is suspicious, RFC 6376 §8.15).
    public var fromFields: [HeaderField]

    /// The domain of the (single) From address, lower case; nil when there is not exactly one.
    public var fromDomain: String? {
        guard fromFields.count == 1 else { return nil }
        return EmailAddress.domain(ofFromValue: fromFields[0].unfoldedValue)
    }
}
