import DKIM
import DKIMOpenSSL
import Foundation

/// The keys the milter signs with and how authors map to them. Built once at start and on
/// reload (parsing a PEM key costs more than an RSA signature), never per message.
public struct KeyStore: Sendable {
    /// KeyTable entries by name (or `domain` for keys found in a keys directory).
    var keys: [String: [SigningKey]]
    var signingTable: SigningTable?
    /// Without a SigningTable: key names are domains.
    var byDomain: Bool
    public let subDomains: Bool
    public let multipleSignatures: Bool

    /// All keys, for reports.
    public var allKeys: [SigningKey] { keys.values.flatMap { $0 }.sorted { ($0.domain, $0.selector) < ($1.domain, $1.selector) } }

    /// The keys to sign a message from `address` with: RSA first, then Ed25519. `%` in a
    /// KeyTable domain stands for the author's domain.
    public func keys(forAuthor address: String) -> [SigningKey] {
        let address = address.lowercased()
        let authorDomain = address.split(separator: "@").last.map(String.init) ?? address
        var names: [String] = []
        if let table = signingTable {
            names = table.keyNames(for: address, subDomains: subDomains, all: multipleSignatures)
        } else if byDomain {
            var domain = authorDomain
            names = [domain]
            while subDomains, let dot = domain.firstIndex(of: ".") {
                domain = String(domain[domain.index(after: dot)...])
                if domain.contains(".") { names.append(domain) }
            }
            names = names.filter { keys[$0] != nil }.prefix(1).map { $0 }
        }
        var out: [SigningKey] = []
        for name in names {
            for var k in keys[name] ?? [] {
                if k.domain == "%" { k.domain = authorDomain }
                out.append(k)
            }
        }
        return out.enumerated().sorted { a, b in
            (a.element.key.keyType == .rsa ? 0 : 1, a.offset) < (b.element.key.keyType == .rsa ? 0 : 1, b.offset)
        }.map(\.element)
    }
}

extension KeyStore {
    /// Loads the keys a configuration names: KeyTable + SigningTable, or Domain + Selector +
    /// KeyFile, or every `keysDirectory/<domain>/<selector>.pem`.
    /// - Throws: a `ConfigurationError` naming the file and the fix.
    public static func load(_ c: MilterConfiguration, warnings: inout [String]) throws(ConfigurationError) -> KeyStore {
        var keys: [String: [SigningKey]] = [:]
        var table: SigningTable?
        var byDomain = false
        if let keyTable = c.keyTable {
            let text = try readTable(keyTable)
            for entry in TableLines.entries(text) {
                let (n, line, parts) = (entry.number, entry.text, entry.words)
                let fields = parts.count == 2 ? parts[1].split(separator: ":", maxSplits: 2).map(String.init) : []
                guard parts.count == 2, fields.count == 3 else {
                    throw ConfigurationError("\(keyTable):\(n): expected \"NAME DOMAIN:SELECTOR:KEYFILE\", found \"\(line)\"")
                }
                let key = try loadKey(fields[2], requireSafe: c.requireSafeKeys, minimumBits: c.minimumKeyBits,
                                      context: "\(keyTable):\(n)")
                keys[parts[0].lowercased(), default: []].append(
                    SigningKey(domain: fields[0].lowercased(), selector: fields[1], key: key, path: fields[2]))
            }
            if let signingTable = c.signingTable {
                table = try SigningTable(parsing: readTable(signingTable), isPattern: c.signingTableIsPattern, source: signingTable)
                for rule in table!.rules {
                    for name in rule.keyNames where keys[name.lowercased()] == nil {
                        throw ConfigurationError("\(signingTable): \"\(rule.pattern)\" names the key \"\(name)\", which is not in the KeyTable \(keyTable)")
                    }
                }
            } else {
                byDomain = true
                let copy = keys
                keys = [:]
                for (_, list) in copy { for k in list { keys[k.domain, default: []].append(k) } }
            }
        } else if let keyFile = c.keyFile {
            guard let selector = c.selector else {
                throw ConfigurationError("KeyFile \(keyFile) needs a Selector line (the s= of its DNS record)")
            }
            guard !c.domains.isEmpty else {
                throw ConfigurationError("KeyFile \(keyFile) needs a Domain line (the domains it signs for)")
            }
            let key = try loadKey(keyFile, requireSafe: c.requireSafeKeys, minimumBits: c.minimumKeyBits, context: "KeyFile")
            for d in c.domains { keys[d, default: []].append(SigningKey(domain: d, selector: selector, key: key, path: keyFile)) }
            byDomain = true
        } else {
            byDomain = true
            let dir = c.keysDirectory
            let fm = FileManager.default
            for domain in ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted() {
                var isDir: ObjCBool = false
                guard fm.fileExists(atPath: dir + "/" + domain, isDirectory: &isDir), isDir.boolValue, domain.contains(".") else { continue }
                for file in ((try? fm.contentsOfDirectory(atPath: dir + "/" + domain)) ?? []).sorted() where file.hasSuffix(".pem") {
                    let path = dir + "/" + domain + "/" + file
                    let key = try loadKey(path, requireSafe: c.requireSafeKeys, minimumBits: c.minimumKeyBits, context: "key store")
                    keys[domain.lowercased(), default: []].append(
                        SigningKey(domain: domain.lowercased(), selector: String(file.dropLast(4)), key: key, path: path))
                }
            }
        }
        if let algorithm = c.signatureAlgorithm {
            for (name, list) in keys {
                let kept = list.filter { $0.key.keyType == algorithm.keyType }
                if kept.count < list.count {
                    warnings.append("SignatureAlgorithm \(algorithm.rawValue): the \(list.count - kept.count) key(s) of \(name) of another type are not used")
                }
                keys[name] = kept
            }
        }
        return KeyStore(keys: keys, signingTable: table, byDomain: byDomain, subDomains: c.subDomains,
                        multipleSignatures: c.multipleSignatures)
    }

    static func readTable(_ path: String) throws(ConfigurationError) -> String {
        guard let text = TextFile.read(path) else {
            throw ConfigurationError("cannot read \(path): check that it exists and that the milter's user can read it")
        }
        return text
    }

    /// Loads one private key, refusing files that others may read or write (RequireSafeKeys).
    static func loadKey(_ path: String, requireSafe: Bool, minimumBits: Int, context: String) throws(ConfigurationError) -> PrivateKey {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw ConfigurationError("\(context): the key file \(path) does not exist (make one with: dkimkey generate SELECTOR --domain DOMAIN)")
        }
        if requireSafe && st.st_mode & 0o077 != 0 {
            throw ConfigurationError("\(context): the key file \(path) can be read or written by other users (mode \(String(st.st_mode & 0o777, radix: 8))); fix it with: chmod 600 \(path) (and chown it to the milter's user)")
        }
        guard let text = TextFile.read(path) else {
            throw ConfigurationError("\(context): cannot read the key file \(path): check its owner (chown it to the milter's user)")
        }
        let key: PrivateKey
        do {
            key = try PrivateKey(pemOrSeed: text)
        } catch {
            throw ConfigurationError("\(context): the key file \(path) holds no usable private key: \(error.reason)")
        }
        if key.keyType == .rsa && key.bitCount < minimumBits {
            throw ConfigurationError("\(context): the key \(path) has \(key.bitCount) bits; at least \(minimumBits) are required (make a 2048-bit key with dkimkey generate)")
        }
        return key
    }
}
