import DKIM
import DKIMOpenSSL

/// `dkimkey sign`: the message with a new DKIM-Signature on top, every other byte unchanged.
public enum MessageSigning {
    public static func sign(message: [UInt8], configuration: SignerConfiguration,
                            key: any DKIMSigningKey) throws(ToolError) -> [UInt8] {
        let lineEndings = MessageParser.LineEndings.detect(in: message)
        var parser = MessageParser(lineEndings: lineEndings)
        var session: SigningSession
        do {
            session = try SigningSession(configuration: configuration, key: key, crypto: OpenSSLCryptoProvider())
        } catch {
            throw ToolError("cannot sign: \(error.reason)")
        }
        func handle(_ event: MessageParser.Event) {
            switch event {
            case .header(let f): session.append(f)
            case .endOfHeaders: session.endOfHeaders()
            case .body(let chunk): session.appendBody(chunk)
            }
        }
        let field: HeaderField
        do {
            try parser.parse(message, handle)
            try parser.finish(handle)
            field = try session.finish()
        } catch let error as DKIMError {
            throw ToolError("cannot sign: \(error.reason)")
        } catch {
            throw ToolError("cannot sign: \(error)")
        }
        var out: [UInt8] = []
        out.reserveCapacity(message.count + field.bytes.count + 2)
        if lineEndings == .lf {
            out.append(contentsOf: field.bytes.filter { $0 != 0x0D })
            out.append(0x0A)
        } else {
            out.append(contentsOf: field.bytes)
            out.append(contentsOf: [0x0D, 0x0A])
        }
        out.append(contentsOf: message)
        return out
    }
}
