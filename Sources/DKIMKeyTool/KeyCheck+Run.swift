import DKIM
@_exported import DKIMKeyCheck
import DKIMOpenSSL
import Foundation

extension KeyCheck {
    // MARK: - Running a check

    /// Looks the record up and judges it. `keyPath` nil means `KEYS-DIR/DOMAIN/SELECTOR.pem`,
    /// which may be missing (the record is still checked; the match check fails); a key named
    /// with `keyPath`, or a default one that exists but cannot be read, is an error (exit 2).
    public static func run(selector: String, domain: String, keyPath: String?, keysDirectory: String,
                           resolver: any TXTResolver, server: String) throws(ToolError) -> KeyCheckReport {
        let domain = KeyCheck.normalized(domain)
        try KeyGeneration.validateNames(selector: selector, domain: domain)
        let path = keyPath ?? "\(keysDirectory)/\(domain)/\(selector).pem"
        let privateKey: PrivateKey?
        if keyPath == nil, !FileManager.default.fileExists(atPath: path) {
            privateKey = nil
        } else {
            privateKey = try KeyFile.load(path)
        }
        let lookup = resolver.lookupTXT(KeyCheck.queryName(selector: selector, domain: domain))
        var nearMisses: [KeyCheck.NearMiss] = []
        if KeyCheck.isMissing(lookup) {
            for (mistake, name) in KeyCheck.nearMissNames(selector: selector, domain: domain) {
                nearMisses.append(KeyCheck.NearMiss(mistake, name: name, result: resolver.lookupTXT(name)))
            }
        }
        return judge(selector: selector, domain: domain, lookup: lookup, nearMisses: nearMisses,
                     privateKey: privateKey, keyPath: path, crypto: OpenSSLCryptoProvider(), server: server)
    }
}
