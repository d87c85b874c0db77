import DKIM
import DKIMOpenSSL

/// `dkimkey sign`: the message with a new DKIM-Signature on top, every other byte unchanged.
public enum MessageSigning {
    public static func sign(message: [UInt8], configuration: SignerConfiguration,
                            key: any DKIMSigningKey) throws(ToolError) -> [UInt8] {
        let lineEndings = MessageParser.LineEndings.detect(in: message)
        let field: HeaderField
        do {
            field = try DKIMSigner(configuration: configuration, key: key, crypto: OpenSSLCryptoProvider())
                .signatureField(for: message)
        } catch {
            throw ToolError("cannot sign: \(error.reason)")
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
