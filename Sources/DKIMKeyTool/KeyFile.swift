import DKIM
import DKIMOpenSSL

/// Loads private keys from files, with errors that name the file and the fix.
public enum KeyFile {
    public static func load(_ path: String) throws(ToolError) -> PrivateKey {
        let text = try FileAccess.readText(path, what: "the key file")
        do {
            return try PrivateKey(pemOrSeed: text)
        } catch {
            throw ToolError("the key file \(path) holds no usable private key: \(error.reason). "
                + "Expected a PEM private key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY) or a base64 Ed25519 seed; "
                + "make one with: dkimkey generate SELECTOR --domain DOMAIN")
        }
    }
}
