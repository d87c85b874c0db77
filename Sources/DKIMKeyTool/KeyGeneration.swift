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

    /// Checks the names and the key size before anything is written.
    public func validate() throws(ToolError) {
        guard Self.isValidName(selector) else {
            throw ToolError("the selector \"\(selector)\" is not a valid DNS name (letters, digits, hyphens, dots)")
        }
        guard Self.isValidName(domain), domain.contains(".") else {
            throw ToolError("the domain \"\(domain)\" is not a valid domain name such as example.com")
        }
        if keyType == .rsa {
            // RFC 8301 §3.2: signers MUST use RSA keys of at least 1024 bits.
            guard bits >= 1024 else { throw ToolError("RSA keys below 1024 bits are never valid (RFC 8301); use --bits 2048") }
            guard bits <= 8192 else { throw ToolError("RSA keys above 8192 bits are refused by verifiers; use --bits 2048 or 4096") }
        }
    }

    /// Generates the key and writes `DIR/DOMAIN/SELECTOR.pem` (0600, PKCS#8) and `.txt`.
    public func run() throws(ToolError) -> Output {
        try validate()
        let directory = keysDirectory + "/" + domain.lowercased()
        let pemPath = directory + "/" + selector + ".pem"
        let txtPath = directory + "/" + selector + ".txt"
        try FileAccess.makeDirectory(directory, mode: 0o700)
        if !overwrite, FileAccessCheck.exists(pemPath) {
            throw ToolError("\(pemPath) already exists: a key published in DNS must not be replaced by accident. "
                + "Pick a new selector, or use --force to replace it")
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
        let zoneLine = record.zoneFileLine(selector: selector, domain: domain.lowercased())
        try FileAccess.write(Array(pem.utf8), to: pemPath, mode: 0o600, overwrite: overwrite)
        try FileAccess.write(Array((zoneLine + "\n").utf8), to: txtPath, mode: 0o644, overwrite: true)
        return Output(privateKeyPath: pemPath, recordPath: txtPath, record: record, zoneLine: zoneLine,
                      queryName: "\(selector)._domainkey.\(domain.lowercased())")
    }

    static func isValidName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 253, !name.hasPrefix("."), !name.hasSuffix("."),
              !name.contains("..") else { return false }
        return name.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || ((b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A) || b == 0x2D || b == 0x2E || b == 0x5F
        }
    }
}

import Foundation

enum FileAccessCheck {
    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }
}
