import DKIM
import DKIMMilterCore
import DKIMOpenSSL

/// OpenSSL parses the milter's private keys (the core takes them through `PrivateKeyLoader`).
extension OpenSSLCryptoProvider: PrivateKeyLoader {
    public func signingKey(pemOrSeed text: String) throws(DKIMError) -> any DKIMSigningKey {
        try PrivateKey(pemOrSeed: text)
    }
}
