internal import COpenSSL
import DKIM

/// HMAC-SHA256 (RFC 2104 with SHA-256; RFC 4231 gives its test vectors) through OpenSSL 3's
/// EVP_MAC API: the MAC that TSIG's `hmac-sha256` names (RFC 8945 §6), for DNS UPDATE.
public enum HMACSHA256: Sendable {
    /// The length of a code, in bytes.
    public static let outputSize = 32

    /// The authentication code of `message` under `key`. Throws `.internalError` only when
    /// OpenSSL cannot provide HMAC or SHA-256 (a broken or FIPS-restricted installation).
    public static func authenticationCode(key: [UInt8], message: [UInt8]) throws(DKIMError) -> [UInt8] {
        defer { ERR_clear_error() }
        var out = [UInt8](repeating: 0, count: outputSize)
        var length = 0
        // A zero-length array may have no storage; OpenSSL wants a valid pointer either way.
        let keyBytes = key.isEmpty ? [0] : key
        let dataBytes = message.isEmpty ? [0] : message
        let made = keyBytes.withUnsafeBufferPointer { k in
            dataBytes.withUnsafeBufferPointer { d in
                out.withUnsafeMutableBufferPointer { o in
                    EVP_Q_mac(nil, "HMAC", nil, "SHA256", nil, k.baseAddress, key.count, d.baseAddress, message.count,
                              o.baseAddress, o.count, &length)
                }
            }
        }
        guard made != nil, length == outputSize else {
            throw DKIMError(.internalError, "OpenSSL could not compute HMAC-SHA256: \(openSSLErrorText())")
        }
        return out
    }
}
