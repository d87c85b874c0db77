import DKIM
import DKIMKeyCheck
import DKIMOpenSSL
import Foundation
import Glibc

/// `dkimkey rotate`: one step of every key's life in the file key store, each time it runs (by
/// hand or from a daily timer), driven by the clock and by what DNS serves:
///
/// 1. no key of a type, or the newest one older than `maxAge`: a new key with a dated selector
///    is made, *pending*, and its record published (or printed for the admin to paste);
/// 2. a pending key whose record DNS serves becomes *active*; the keys it replaces *retire*
///    (dkim-milter already switched to it at its own key check, without a reload);
/// 3. a retiring key past the overlap window gets the revoked record `v=DKIM1; p=` (RFC 6376
///    §3.6.1); once DNS serves that, it is *revoked* and its private key leaves the signing set
///    (moved to `DOMAIN/retired/`, copied to `--reveal DIR` if asked);
/// 4. a revoked key past another overlap window: its record is deleted, then so is its entry.
///
/// The state file is written after each transition, before the next side effect, so a crash
/// leaves a state the next run continues from.
public struct KeyRotation {
    public struct Options: Sendable {
        public var types: [KeyRecord.KeyType] = [.rsa]
        /// Seconds a replaced key stays published, and a revoked one revoked.
        public var overlap = 7 * 86400
        /// A key older than this is replaced.
        public var maxAge = 180 * 86400
        /// strftime format of new selectors (UTC); `e` is put in front of the format's output for
        /// Ed25519 keys when both types rotate.
        public var selectorFormat = "s%Y%m"
        public var rsaBits = 2048
        /// Where retired private keys are copied, for publication (deniability of old mail).
        public var revealDirectory: String?
        public init() {}
    }

    /// One thing said about one key.
    public struct Line: Sendable, Encodable {
        public var selector: String
        public var state: String
        /// What happened or what to do.
        public var text: String
        /// Whether the admin must act (paste a record, …).
        public var actionNeeded: Bool
    }

    public var domain: String
    public var keysDirectory: String
    public var options: Options
    /// Seconds since the epoch (injected for tests).
    public var now: Int
    /// Reads our own records from DNS (past any cache).
    public var lookup: (String) -> TXTLookupResult
    /// Publishes records (RFC 2136, a command); nil: the admin does, told what to paste.
    public var publisher: (any RecordPublisher)?

    public init(domain: String, keysDirectory: String, options: Options, now: Int,
                lookup: @escaping (String) -> TXTLookupResult, publisher: (any RecordPublisher)?) {
        self.domain = KeyCheck.normalized(domain)
        self.keysDirectory = keysDirectory
        self.options = options
        self.now = now
        self.lookup = lookup
        self.publisher = publisher
    }

    var folder: String { keysDirectory + "/" + domain }
    var retiredFolder: String { folder + "/retired" }

    static let revokedRecord = "v=DKIM1; p="

    // MARK: - Running

    /// Advances every key of the domain by what it can do now; returns what it did and what is left.
    public func run() throws(ToolError) -> [Line] {
        try KeyGeneration.validateNames(selector: "s", domain: domain)
        var state = try loadState()
        var lines: [Line] = []
        try advancePending(&state, &lines)
        try advanceRetiring(&state, &lines)
        try advanceRevoked(&state, &lines)
        try makeNewKeys(&state, &lines)
        return lines
    }

    /// What each key is, and what happens next (nothing is changed).
    public func status() throws(ToolError) -> [Line] {
        let state = try loadState(writing: false)
        var lines: [Line] = []
        for e in state.entries.sorted(by: { ($0.created ?? 0) > ($1.created ?? 0) }) {
            let age = e.created.map { "\((now - $0) / 86400) days old" } ?? "age unknown"
            let key = try? privateKey(e.selector, state: e.state)
            let size = key.map { $0.keyType == .rsa ? "RSA \($0.bitCount)" : "Ed25519" } ?? "no private key"
            let dns = key.map { publication(e.selector, $0).state.rawValue } ?? "-"
            let head = "\(size), \(age), \(e.state.rawValue) since \(KeyStateFile.text(e.since)), DNS: \(dns)"
            var next = ""
            var action = false
            switch e.state {
            case .pending:
                next = dns == "published"
                    ? "becomes active at the next run" : "waiting for its record: " + recordText(e.selector, key)
                action = dns != "published" && publisher == nil
            case .active:
                if let created = e.created, now - created > options.maxAge {
                    next = "older than the maximum age: replaced at the next run"
                    action = true
                } else if let created = e.created {
                    next = "replaced after \(KeyStateFile.text(created + options.maxAge))"
                }
                action = action || dns != "published"
            case .retiring:
                next = "revoked after \(KeyStateFile.text(e.until ?? now))"
                action = (e.until ?? now) <= now && publisher == nil
            case .revoked:
                next = "record deleted after \(KeyStateFile.text(e.until ?? now))"
                action = (e.until ?? now) <= now && publisher == nil && dns != "missing"
            }
            lines.append(Line(selector: e.selector, state: e.state.rawValue, text: "\(head); \(next)",
                              actionNeeded: action))
        }
        if !state.entries.contains(where: { $0.state == .active }) {
            lines.append(Line(selector: "-", state: "none", text: "no active key: run dkimkey rotate to make one",
                              actionNeeded: true))
        }
        return lines
    }

    // MARK: - Steps

    private func advancePending(_ state: inout KeyStateFile, _ lines: inout [Line]) throws(ToolError) {
        for e in state.entries where e.state == .pending {
            let key = try privateKey(e.selector, state: .pending)
            let (published, advice) = publication(e.selector, key)
            guard published == .published else {
                if let publisher {
                    try publisher.replace(name: recordName(e.selector), value: record(key))
                    lines.append(Line(selector: e.selector, state: "pending",
                                      text: "record sent to \(publisher.describes); waiting for DNS to serve it "
                                          + "(\(published.rawValue))", actionNeeded: false))
                } else {
                    lines.append(Line(selector: e.selector, state: "pending",
                                      text: "not yet published (\(published.rawValue): \(advice))", actionNeeded: true))
                }
                continue
            }
            // Published: it signs; the active keys of its type retire.
            var changed = state
            changed[e.selector] = .init(selector: e.selector, state: .active, since: now, created: e.created)
            var retired: [String] = []
            for old in state.entries where old.state == .active && old.selector != e.selector {
                guard let oldKey = try? privateKey(old.selector, state: .active), oldKey.keyType == key.keyType else {
                    continue
                }
                changed[old.selector] = .init(selector: old.selector, state: .retiring, since: now,
                                              until: now + options.overlap, created: old.created)
                retired.append(old.selector)
            }
            try write(changed)
            state = changed
            lines.append(Line(selector: e.selector, state: "active",
                              text: "its record is published: it signs now"
                                  + (retired.isEmpty ? "" : "; \(retired.joined(separator: ", ")) retire(s), stay "
                                      + "published until \(KeyStateFile.text(now + options.overlap)), then revoked"),
                              actionNeeded: false))
        }
    }

    private func advanceRetiring(_ state: inout KeyStateFile, _ lines: inout [Line]) throws(ToolError) {
        for e in state.entries where e.state == .retiring {
            guard let until = e.until, until <= now else { continue }
            let key = try privateKey(e.selector, state: .retiring)
            var dns = publication(e.selector, key).state
            if dns != .revoked, dns != .missing, let publisher {
                try publisher.replace(name: recordName(e.selector), value: Self.revokedRecord)
                dns = publication(e.selector, key).state
            }
            guard dns == .revoked || dns == .missing else {
                lines.append(Line(selector: e.selector, state: "retiring",
                                  text: publisher == nil
                                      ? "the overlap is over: replace the record at \(recordName(e.selector)) by "
                                          + "\"\(Self.revokedRecord)\" (the revoked form)"
                                      : "revoked record sent to \(publisher!.describes); waiting for DNS to serve it",
                                  actionNeeded: publisher == nil))
                continue
            }
            // Revoked in DNS: the private key leaves the signing set (and is revealed if asked).
            try moveToRetired(e.selector)
            var changed = state
            changed[e.selector] = .init(selector: e.selector, state: .revoked, since: now,
                                        until: now + options.overlap, created: e.created)
            try write(changed)
            state = changed
            lines.append(Line(selector: e.selector, state: "revoked",
                              text: "its record is revoked; the private key moved to \(retiredFolder)"
                                  + (options.revealDirectory.map { " and was copied to \($0)" } ?? "")
                                  + "; the record is deleted after \(KeyStateFile.text(now + options.overlap))",
                              actionNeeded: false))
        }
    }

    private func advanceRevoked(_ state: inout KeyStateFile, _ lines: inout [Line]) throws(ToolError) {
        for e in state.entries where e.state == .revoked {
            guard let until = e.until, until <= now else { continue }
            var missing = Self.isMissing(lookup(recordName(e.selector)))
            if !missing, let publisher {
                try publisher.delete(name: recordName(e.selector))
                missing = Self.isMissing(lookup(recordName(e.selector)))
            }
            guard missing else {
                lines.append(Line(selector: e.selector, state: "revoked",
                                  text: publisher == nil ? "delete the TXT record at \(recordName(e.selector))"
                                      : "deletion sent to \(publisher!.describes); waiting for DNS",
                                  actionNeeded: publisher == nil))
                continue
            }
            var changed = state
            changed[e.selector] = nil
            try write(changed)
            state = changed
            lines.append(Line(selector: e.selector, state: "deleted", text: "its record is gone; the rotation of "
                              + "\(e.selector) is complete", actionNeeded: false))
        }
    }

    private func makeNewKeys(_ state: inout KeyStateFile, _ lines: inout [Line]) throws(ToolError) {
        for type in options.types {
            let ofType = state.entries.filter { e in
                (e.state == .active || e.state == .pending)
                    && (try? privateKey(e.selector, state: e.state))?.keyType == type
            }
            if ofType.contains(where: { $0.state == .pending }) { continue }
            let newest = ofType.compactMap(\.created).max()
            if let newest, now - newest <= options.maxAge { continue }
            let selector = newSelector(type: type, taken: Set(state.entries.map(\.selector)))
            let generation = KeyGeneration(selector: selector, domain: domain, keyType: type, bits: options.rsaBits,
                                           keysDirectory: keysDirectory, overwrite: false)
            let out = try generation.run()
            var changed = state
            changed[selector] = .init(selector: selector, state: .pending, since: now, created: now)
            try write(changed)
            state = changed
            var text = "made \(type == .rsa ? "an RSA \(options.rsaBits)" : "an Ed25519") key, pending until its "
                + "record is served. "
            if let publisher {
                try publisher.replace(name: out.queryName, value: out.record.txtValue)
                text += "Record sent to \(publisher.describes)."
            } else {
                text += "Publish TXT \(out.queryName): \(out.record.txtValue)  (zone-file line: \(out.zoneLine))"
            }
            lines.append(Line(selector: selector, state: "pending", text: text, actionNeeded: publisher == nil))
        }
    }

    // MARK: - Pieces

    /// The state file, or one made from the keys found (all active) when there is none; a key
    /// file that the state does not list is taken as pending (a run that crashed after making it).
    func loadState(writing: Bool = true) throws(ToolError) -> KeyStateFile {
        var state: KeyStateFile
        do {
            state = try KeyStateFile.read(directory: folder, domain: domain) ?? KeyStateFile(domain: domain)
        } catch {
            throw ToolError(error.message)
        }
        let existing = FileManager.default.fileExists(atPath: folder + "/" + KeyStateFile.fileName)
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { $0.hasSuffix(".pem") }
        var changed = false
        for file in files.sorted() {
            let selector = String(file.dropLast(4))
            guard state[selector] == nil else { continue }
            let created = Self.modificationTime(folder + "/" + file) ?? now
            state[selector] = .init(selector: selector, state: existing ? .pending : .active,
                                    since: existing ? now : created, created: created)
            changed = true
        }
        if changed && writing { try write(state) }
        return state
    }

    func write(_ state: KeyStateFile) throws(ToolError) {
        do {
            try state.write(directory: folder)
        } catch {
            throw ToolError(error.message)
        }
    }

    func privateKey(_ selector: String, state: KeyLifecycle) throws(ToolError) -> PrivateKey {
        let live = "\(folder)/\(selector).pem"
        let retired = "\(retiredFolder)/\(selector).pem"
        return try KeyFile.load(state == .revoked && !FileManager.default.fileExists(atPath: live) ? retired : live)
    }

    func recordName(_ selector: String) -> String { KeyCheck.queryName(selector: selector, domain: domain) }

    func record(_ key: PrivateKey) -> String {
        KeyRecord(keyType: key.keyType, publicKeyData: key.publicKeyData).txtValue
    }

    func recordText(_ selector: String, _ key: PrivateKey?) -> String {
        key.map { "publish TXT \(recordName(selector)): \(record($0))" } ?? "no private key"
    }

    func publication(_ selector: String, _ key: PrivateKey) -> (state: KeyPublication, advice: String) {
        KeyCheck.publication(selector: selector, domain: domain, lookup: lookup(recordName(selector)),
                             privateKey: key, keyPath: "\(folder)/\(selector).pem", crypto: OpenSSLCryptoProvider())
    }

    static func isMissing(_ lookup: TXTLookupResult) -> Bool {
        if case .nameNotFound = lookup { return true }
        if case .records(let r) = lookup { return r.isEmpty }
        return false
    }

    /// The dated selector of a new key (UTC), with b, c, … added when it is taken.
    func newSelector(type: KeyRecord.KeyType, taken: Set<String>) -> String {
        var t = tm()
        var seconds = now
        gmtime_r(&seconds, &t)
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, options.selectorFormat, &t)
        var base = String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if type == .ed25519 && options.types.count > 1 { base = "e" + base }
        var selector = base
        var suffix = UnicodeScalar("b").value
        while taken.contains(selector) || FileManager.default.fileExists(atPath: "\(folder)/\(selector).pem") {
            selector = base + String(UnicodeScalar(suffix)!)
            suffix += 1
        }
        return selector
    }

    /// Moves a private key (and its .txt) to `retired/`, 0700, and copies it to --reveal DIR.
    func moveToRetired(_ selector: String) throws(ToolError) {
        let live = "\(folder)/\(selector).pem"
        guard FileManager.default.fileExists(atPath: live) else { return }
        if mkdir(retiredFolder, 0o700) != 0 && errno != EEXIST {
            throw ToolError("cannot make \(retiredFolder): \(String(cString: strerror(errno)))")
        }
        if let reveal = options.revealDirectory {
            do {
                if !FileManager.default.fileExists(atPath: reveal) {
                    try FileManager.default.createDirectory(atPath: reveal, withIntermediateDirectories: true)
                }
                let target = "\(reveal)/\(domain)-\(selector).pem"
                try? FileManager.default.removeItem(atPath: target)
                try FileManager.default.copyItem(atPath: live, toPath: target)
            } catch {
                throw ToolError("cannot copy \(live) to \(reveal): \(error.localizedDescription)")
            }
        }
        guard rename(live, "\(retiredFolder)/\(selector).pem") == 0 else {
            throw ToolError("cannot move \(live) to \(retiredFolder): \(String(cString: strerror(errno)))")
        }
        _ = rename("\(folder)/\(selector).txt", "\(retiredFolder)/\(selector).txt")
    }

    static func modificationTime(_ path: String) -> Int? {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_mtim.tv_sec) : nil
    }
}
