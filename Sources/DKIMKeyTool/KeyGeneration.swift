import DKIM
import DKIMOpenSSL

/// `dkimkey generate`: a new key pair in the key store and the record to publish.
public struct KeyGeneration {
    public var selector: String
    public var domain: String
    public var keyType: KeyRecord.KeyType
    public var bits: Int
    public var keysDirectory: String
    public var overwrite: Bool

    public init(selector: String, domain: String, keyType: KeyRecord.KeyType = .rsa, bits: Int = 2048,
                keysDirectory: String = "Keys", overwrite: Bool = false) {
        self.selector = selector
        self.domain = domain
        self.keyType = keyType
        self.bits = bits
        self.keysDirectory = keysDirectory
        self.overwrite = overwrite
    }

    /// What was written.
    public struct Output: Sendable {
        public var privateKeyPath: String
        public var recordPath: String
        public var record: KeyRecord
        public var zoneLine: String
        public var queryName: String
    }

    /// Checks the names and the key size before anything is written. The names are checked with
    /// the signer's rule (RFC 6376 §3.5 d=, §3.1 s=), in ASCII: a name published in DNS is
    /// written in A-labels (xn--...), and the names become file names in the key store.
    public func validate() throws(ToolError) {
        try Self.validateNames(selector: selector, domain: domain)
        if keyType == .rsa {
            // RFC 8301 §3.2: signers MUST use RSA keys of at least 1024 bits.
            guard bits >= 1024 else {
                throw ToolError("RSA keys below 1024 bits are never valid (RFC 8301); use --bits 2048")
            }
            guard bits <= 8192 else {
                throw ToolError("RSA keys above 8192 bits are refused by verifiers; use --bits 2048 or 4096")
            }
        }
    }

    /// Generates the key and writes `DIR/DOMAIN/SELECTOR.pem` (0600, PKCS#8) and `.txt` (0644).
    ///
    /// Both names are looked at before the key is made: a symbolic link at either is refused,
    /// and without `overwrite` an existing file at either is left untouched. The files are then
    /// written under temporary names and put in place by `KeyStoreDirectory` (issue 18, finding 7).
    public func run() throws(ToolError) -> Output {
        try validate()
        let domainName = domain.lowercased()
        let store = try KeyStoreDirectory.open(creating: keysDirectory, mode: 0o700)
        let directory = try store.subdirectory(domainName, mode: 0o700)
        let pemName = selector + ".pem", txtName = selector + ".txt"
        let pemPath = directory.path + "/" + pemName, txtPath = directory.path + "/" + txtName
        let pemExists = try directory.existing(pemName) == .regularFile
        let txtExists = try directory.existing(txtName) == .regularFile
        if !overwrite, pemExists {
            throw ToolError("\(pemPath) already exists: a key published in DNS must not be replaced by accident. "
                + "Pick a new selector, or use --force to replace it")
        }
        if !overwrite, txtExists {
            throw ToolError("\(txtPath) already exists (a record without its key?); "
                + "move it away, pick a new selector, or use --force to replace it")
        }
        let key: PrivateKey
        let pem: String
        do {
            key = try PrivateKey.generate(type: keyType, bits: bits)
            pem = try key.pkcs8PEM()
        } catch {
            throw ToolError("key generation failed: \(error.reason)")
        }
        let record = key.keyRecord
        let zoneLine = record.zoneFileLine(selector: selector, domain: domainName)
        let pemFile = try directory.writeTemporary(Array(pem.utf8), for: pemName, mode: 0o600)
        let txtFile: KeyStoreDirectory.PendingFile
        do {
            txtFile = try directory.writeTemporary(Array((zoneLine + "\n").utf8), for: txtName, mode: 0o644)
        } catch {
            directory.discard(pemFile)
            throw error
        }
        do {
            try directory.install(pemFile, as: pemName, replacing: overwrite)
        } catch {
            directory.discard(txtFile)
            throw error
        }
        do {
            try directory.install(txtFile, as: txtName, replacing: overwrite)
        } catch {
            // Without --force the key is new: take it back so that no key is left without its record.
            if !overwrite { directory.remove(pemName, ifStill: pemFile) }
            throw error
        }
        return Output(privateKeyPath: pemPath, recordPath: txtPath, record: record, zoneLine: zoneLine,
                      queryName: "\(selector)._domainkey.\(domainName)")
    }

    /// Checks a selector and a domain as `validate()` does (also for `dkimkey check`).
    static func validateNames(selector: String, domain: String) throws(ToolError) {
        guard DomainName.isValid(selector, requireDot: false), selector.utf8.allSatisfy({ $0 < 0x80 }) else {
            throw ToolError("the selector \"\(selector)\" is not a valid DNS name (letters, digits, hyphens, dots)")
        }
        guard DomainName.isValid(domain), domain.utf8.allSatisfy({ $0 < 0x80 }) else {
            throw ToolError("the domain \"\(domain)\" is not a valid domain name such as example.com "
                + "(write an internationalized name in its xn-- form)")
        }
    }
}
