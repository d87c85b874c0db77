/// Signs a whole message held in memory. The milter uses `SigningSession` directly; this is for
/// tools and tests.
public struct DKIMSigner: Sendable {
    public var configuration: SignerConfiguration
    public let key: any DKIMSigningKey
    public let crypto: any DKIMCryptoProvider

    public init(configuration: SignerConfiguration, key: any DKIMSigningKey, crypto: any DKIMCryptoProvider) {
        self.configuration = configuration
        self.key = key
        self.crypto = crypto
    }

    /// The DKIM-Signature field for a raw message (bare-LF input is read as CRLF).
    public func signatureField(for message: [UInt8]) throws(DKIMError) -> HeaderField {
        var session = try SigningSession(configuration: configuration, key: key, crypto: crypto)
        func handle(_ event: MessageParser.Event) {
            switch event {
            case .header(let f): session.append(f)
            case .endOfHeaders: session.endOfHeaders()
            case .body(let chunk): session.appendBody(chunk)
            }
        }
        try MessageParser.parseWhole(message, handle)
        return try session.finish()
    }
}
