import DKIM
import DKIMKeyCheck
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
    /// What the published-key guard last learned of each key, by record name; a key never
    /// checked (or only with DNS down) is absent.
    public var publication: [String: KeyPublication] = [:]
    /// Whether a domain whose keys of an algorithm are all unpublished signs anyway
    /// (UnpublishedKeys sign, the default: the MTA may see split-horizon DNS) or not (skip).
    public var signsWithUnpublishedKeys = true

    init(keys: [String: [SigningKey]], signingTable: SigningTable?, byDomain: Bool, subDomains: Bool,
         multipleSignatures: Bool) {
        self.keys = keys
        self.signingTable = signingTable
        self.byDomain = byDomain
        self.subDomains = subDomains
        self.multipleSignatures = multipleSignatures
    }

    /// The same keys with what the guard learned.
    public func with(publication: [String: KeyPublication]) -> KeyStore {
        var copy = self
        copy.publication = publication
        return copy
    }

    /// Whether a key may sign now. An active key signs unless the guard saw its record missing,
    /// mismatched or revoked (DNS down never demotes a key); a pending key only once its record
    /// is proven published; retiring and revoked keys never.
    public func isUsable(_ k: SigningKey) -> Bool {
        switch k.lifecycle {
        case .active: publication[k.recordName].map { $0 == .published || $0 == .unknown } ?? true
        case .pending: publication[k.recordName] == .published
        case .retiring, .revoked: false
        }
    }

    /// The keys to sign with among a domain's keys, per algorithm: a pending key proven published
    /// takes over from the active ones (rotation, without a reload); otherwise the usable active
    /// keys; when none of an algorithm is usable, its active keys if UnpublishedKeys says sign.
    func chosen(_ candidates: [SigningKey]) -> [SigningKey] {
        var out: [SigningKey] = []
        for type in [KeyRecord.KeyType.rsa, .ed25519] {
            let ofType = candidates.filter { $0.key.keyType == type && $0.lifecycle.maySign }
            guard !ofType.isEmpty else { continue }
            let takingOver = ofType.filter { $0.lifecycle == .pending && isUsable($0) }
                .max { ($0.created ?? 0, $0.selector) < ($1.created ?? 0, $1.selector) }
            if let takingOver {
                out.append(takingOver)
                continue
            }
            let usable = ofType.filter { $0.lifecycle == .active && isUsable($0) }
            if !usable.isEmpty {
                out += usable
            } else if signsWithUnpublishedKeys {
                out += ofType.filter { $0.lifecycle == .active }
            }
        }
        return out
    }

    /// All keys, for reports.
    public var allKeys: [SigningKey] {
        keys.values.flatMap { $0 }.sorted { ($0.domain, $0.selector) < ($1.domain, $1.selector) }
    }

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
            var ofName: [SigningKey] = []
            for var k in keys[name] ?? [] {
                if k.domain == "%" { k.domain = authorDomain }
                ofName.append(k)
            }
            out += chosen(ofName)
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
    public static func load(_ c: MilterConfiguration, loader: any PrivateKeyLoader,
                            warnings: inout [String]) throws(ConfigurationError) -> KeyStore {
        var keys: [String: [SigningKey]] = [:]
        var table: SigningTable?
        var byDomain = false
        let safety = c.requireSafeKeys ? try KeyFileSafety(userID: c.userID) : nil
        func load(_ path: String, _ context: String) throws(ConfigurationError) -> any DKIMSigningKey {
            try loadKey(path, loader: loader, safety: safety, minimumBits: c.minimumKeyBits, context: context)
        }
        if let keyTable = c.keyTable {
            let text = try readTable(keyTable)
            for entry in TableLines.entries(text) {
                let (n, line, parts) = (entry.number, entry.text, entry.words)
                let fields = parts.count == 2 ? parts[1].split(separator: ":", maxSplits: 2).map(String.init) : []
                guard parts.count == 2, fields.count == 3 else {
                    throw ConfigurationError(
                        "\(keyTable):\(n): expected \"NAME DOMAIN:SELECTOR:KEYFILE\", found \"\(line)\"")
                }
                if let problem = SigningKey.domainProblem(fields[0], allowsAuthorDomain: true) {
                    throw ConfigurationError("\(keyTable):\(n): the DOMAIN \(problem); fix this line")
                }
                if let problem = SigningKey.selectorProblem(fields[1]) {
                    throw ConfigurationError("\(keyTable):\(n): the SELECTOR \(problem); fix this line")
                }
                let key = try load(fields[2], "\(keyTable):\(n)")
                keys[parts[0].lowercased(), default: []].append(
                    SigningKey(domain: fields[0].lowercased(), selector: fields[1], key: key, path: fields[2]))
            }
            if let signingTable = c.signingTable {
                table = try SigningTable(parsing: readTable(signingTable), isPattern: c.signingTableIsPattern,
                                         source: signingTable)
                for rule in table!.rules {
                    for name in rule.keyNames where keys[name.lowercased()] == nil {
                        throw ConfigurationError("\(signingTable): \"\(rule.pattern)\" names the key \"\(name)\", "
                            + "which is not in the KeyTable \(keyTable)")
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
            if let problem = SigningKey.selectorProblem(selector) { throw ConfigurationError("Selector: \(problem)") }
            for d in c.domains {
                if let problem = SigningKey.domainProblem(d) { throw ConfigurationError("Domain: \(problem)") }
            }
            let key = try load(keyFile, "KeyFile")
            for d in c.domains {
                keys[d, default: []].append(SigningKey(domain: d, selector: selector, key: key, path: keyFile))
            }
            byDomain = true
        } else {
            byDomain = true
            let dir = c.keysDirectory
            let fm = FileManager.default
            for domain in ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted() where !domain.hasPrefix(".") {
                let folder = dir + "/" + domain
                var isDir: ObjCBool = false
                guard fm.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue, domain.contains(".") else {
                    continue
                }
                let files = ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).sorted()
                    .filter { $0.hasSuffix(".pem") }
                // dkimkey rotate's states; a key not in an existing state file is new: pending.
                let states: KeyStateFile?
                do {
                    states = try KeyStateFile.read(directory: folder, domain: domain.lowercased())
                } catch {
                    throw ConfigurationError("key store: \(error.message)")
                }
                // The folder's name is d= and each file's name s=: checked before they are signed with.
                if !files.isEmpty, let problem = SigningKey.domainProblem(domain) {
                    throw ConfigurationError("key store: the directory \(folder) is named for its d=, and \(problem); "
                        + "rename it to the signing domain")
                }
                for file in files {
                    let path = folder + "/" + file
                    let selector = String(file.dropLast(4))
                    if let problem = SigningKey.selectorProblem(selector) {
                        throw ConfigurationError("key store: the key file \(path) is named for its s=, and \(problem); "
                            + "rename it to SELECTOR.pem")
                    }
                    let key = try load(path, "key store")
                    let entry = states?[selector]
                    keys[domain.lowercased(), default: []].append(
                        SigningKey(domain: domain.lowercased(), selector: selector, key: key, path: path,
                                   lifecycle: entry?.state ?? (states == nil ? .active : .pending),
                                   created: entry?.created))
                }
            }
        }
        if let algorithm = c.signatureAlgorithm {
            for (name, list) in keys {
                let kept = list.filter { $0.key.keyType == algorithm.keyType }
                if kept.count < list.count {
                    warnings.append("SignatureAlgorithm \(algorithm.rawValue): the \(list.count - kept.count) key(s) "
                        + "of \(name) of another type are not used")
                }
                keys[name] = kept
            }
        }
        var store = KeyStore(keys: keys, signingTable: table, byDomain: byDomain, subDomains: c.subDomains,
                             multipleSignatures: c.multipleSignatures)
        store.signsWithUnpublishedKeys = c.signsWithUnpublishedKeys
        return store
    }

    static func readTable(_ path: String) throws(ConfigurationError) -> String {
        guard let text = TextFile.read(path) else {
            throw ConfigurationError("cannot read \(path): check that it exists and that the milter's user can read it")
        }
        return text
    }

    /// Loads one private key. The file is opened without blocking and checked on the open
    /// descriptor: it must be a regular file (a FIFO or a device is never read), and is read up
    /// to `TextFile.maximumSize`. With `safety` (RequireSafeKeys), a link is not followed
    /// (O_NOFOLLOW) and the owner, the mode and the directories above are checked as
    /// `KeyFileSafety` says.
    public static func loadKey(_ path: String, loader: any PrivateKeyLoader, safety: KeyFileSafety?, minimumBits: Int,
                        context: String) throws(ConfigurationError) -> any DKIMSigningKey {
        let user = safety?.userName ?? KeyFileSafety.name(of: geteuid())
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | (safety == nil ? 0 : O_NOFOLLOW))
        guard fd >= 0 else {
            switch errno {
            case ENOENT:
                throw ConfigurationError("\(context): the key file \(path) does not exist "
                    + "(make one with: dkimkey generate SELECTOR --domain DOMAIN)")
            case ELOOP where safety != nil:
                let target = KeyFileSafety.resolved(path) ?? "its target"
                throw ConfigurationError("\(context): the key file \(path) is a symbolic link (to \(target)); "
                    + "RequireSafeKeys does not follow links to keys, as whoever can change the link chooses the key. "
                    + "Fix it by naming the file itself in the configuration, or: mv \(target) \(path)")
            case EACCES, EPERM:
                throw ConfigurationError("\(context): cannot read the key file \(path) as \(user): check its owner; "
                    + "fix it with: chown \(user) \(path)")
            default:
                throw ConfigurationError("\(context): cannot open the key file \(path): "
                    + String(cString: strerror(errno)))
            }
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw ConfigurationError("\(context): cannot examine the key file \(path): "
                + String(cString: strerror(errno)))
        }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw ConfigurationError("\(context): the key file \(path) is not a regular file; "
                + "name the PEM file itself (made by dkimkey generate)")
        }
        if let safety {
            try safety.check(keyFile: path, st, context: context)
            try safety.check(directoriesAbove: path, opened: st, context: context)
        }
        guard let bytes = TextFile.read(descriptor: fd) else {
            throw ConfigurationError("\(context): cannot read the key file \(path) as \(user): check its owner; "
                + "fix it with: chown \(user) \(path)")
        }
        let key: any DKIMSigningKey
        do {
            key = try loader.signingKey(pemOrSeed: String(decoding: bytes, as: UTF8.self))
        } catch {
            throw ConfigurationError("\(context): the key file \(path) holds no usable private key: \(error.reason)")
        }
        if key.keyType == .rsa && key.bitCount < minimumBits {
            throw ConfigurationError("\(context): the key \(path) has \(key.bitCount) bits; at least \(minimumBits) "
                + "are required (make a 2048-bit key with dkimkey generate)")
        }
        return key
    }
}
