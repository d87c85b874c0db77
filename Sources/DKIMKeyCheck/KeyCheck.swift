import DKIM
import Foundation

/// What `dkimkey check` found: one line per check, in plain words with the fix.
public struct KeyCheckReport: Sendable {
    public enum Status: String, Sendable, Encodable {
        case ok, warn, fail
    }

    /// One check: a short name for scripts (`dns`, `syntax`, `truncated`, `match`, …), its
    /// outcome, and a sentence saying what was found and, unless it is fine, how to fix it.
    public struct Check: Sendable, Equatable, Encodable {
        public var check: String
        public var status: Status
        public var message: String

        public init(_ check: String, _ status: Status, _ message: String) {
            self.check = check
            self.status = status
            self.message = message
        }
    }

    /// The exact name looked up, `SELECTOR._domainkey.DOMAIN`.
    public var name: String
    /// Whether the name has at least one TXT record.
    public var found: Bool
    /// The record judged (its strings joined), nil when none was found.
    public var record: String?
    public var checks: [Check]
    /// Whether the published key, as receivers read it, is the public half of the private key.
    public var matches: Bool

    /// Exit 0: the published key matches and nothing failed (warnings allowed).
    public var passed: Bool { matches && !checks.contains { $0.status == .fail } }
    public var exitCode: Int32 { passed ? 0 : 1 }

    /// The first check of that name.
    public func check(_ name: String) -> Check? { checks.first { $0.check == name } }

    /// One JSON object on one line: name, found, record (null when none), checks, matches.
    public func json() -> String {
        struct Object: Encodable {
            var report: KeyCheckReport
            enum K: String, CodingKey { case name, found, record, checks, matches }
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: K.self)
                try c.encode(report.name, forKey: .name)
                try c.encode(report.found, forKey: .found)
                try c.encode(report.record, forKey: .record)  // null when none
                try c.encode(report.checks, forKey: .checks)
                try c.encode(report.matches, forKey: .matches)
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(Object(report: self))) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Lines for people: the name, the record, one line per check, and the verdict. What DNS
    /// said is escaped (`Printable.escaped`): a record cannot put control bytes on the terminal.
    public func text() -> String {
        var lines = ["Looked up TXT \(Printable.escaped(name))"]
        if let record { lines.append("Record: \(Printable.escaped(record))") }
        for c in checks {
            let word = switch c.status { case .ok: "OK  "; case .warn: "WARN"; case .fail: "FAIL" }
            lines.append("\(word) \(c.check): \(Printable.escaped(c.message))")
        }
        let fails = checks.filter { $0.status == .fail }.count
        if passed {
            lines.append("Result: OK, the published record is usable and matches the private key.")
        } else {
            lines.append("Result: not ready, fix the \(fails == 1 ? "FAIL line" : "FAIL lines") above.")
        }
        return lines.joined(separator: "\n")
    }
}

/// `dkimkey check`: is the key record published at `SELECTOR._domainkey.DOMAIN` well formed,
/// and is it the public half of the private key on disk? Written for the mail admin who just
/// pasted the record into a web DNS panel: every problem comes with the fix.
public enum KeyCheck {
    /// Another name that was looked up because the right one has no record: where a DNS panel
    /// mistake would have put the record.
    public struct NearMiss: Sendable {
        public enum Mistake: Sendable {
            /// `SEL._domainkey.DOMAIN.DOMAIN`: the panel appended the domain to a full name.
            case doubledDomain
            /// `SEL.DOMAIN`: `._domainkey` was left out.
            case missingDomainKey
        }
        public var mistake: Mistake
        public var name: String
        public var result: TXTLookupResult

        public init(_ mistake: Mistake, name: String, result: TXTLookupResult) {
            self.mistake = mistake
            self.name = name
            self.result = result
        }
    }

    /// `SELECTOR._domainkey.DOMAIN`, the domain in lower case without a final dot.
    public static func queryName(selector: String, domain: String) -> String {
        "\(selector)._domainkey.\(normalized(domain))"
    }

    /// The names a panel mistake would have put the record at.
    public static func nearMissNames(selector: String, domain: String) -> [(NearMiss.Mistake, String)] {
        let d = normalized(domain)
        return [(.doubledDomain, "\(selector)._domainkey.\(d).\(d)"), (.missingDomainKey, "\(selector).\(d)")]
    }

    public static func normalized(_ domain: String) -> String {
        var d = domain.lowercased()
        if d.hasSuffix(".") { d.removeLast() }
        return d
    }

    public static func isMissing(_ lookup: TXTLookupResult) -> Bool {
        switch lookup {
        case .nameNotFound, .records([]): true
        default: false
        }
    }

    // MARK: - Judging

    /// Judges what a lookup of `SELECTOR._domainkey.DOMAIN` returned against the private key
    /// (nil when there is none at `keyPath`). No I/O: everything it needs is passed in.
    /// - Parameters:
    ///   - nearMisses: lookups of the names a panel mistake would have used (when the name has no record).
    ///   - keyPath: the private key's file, named in the messages.
    ///   - server: the DNS server asked, as words ("the DNS server 127.0.0.1:5353").
    ///   - crypto: reads the key in `p=` (its type and size).
    public static func judge(selector: String, domain: String, lookup: TXTLookupResult, nearMisses: [NearMiss] = [],
                             privateKey: (any DKIMSigningKey)?, keyPath: String, crypto: any DKIMCryptoProvider,
                             server: String = "the DNS server") -> KeyCheckReport {
        let domain = normalized(domain)
        let name = queryName(selector: selector, domain: domain)
        var report = KeyCheckReport(name: name, found: false, record: nil, checks: [], matches: false)
        let records: [String]
        switch lookup {
        case .temporaryFailure(let reason):
            report.checks.append(.init("dns", .fail,
                "\(server) gave no answer for \(name) (\(reason)), so nothing could be checked. "
                + "Fix: try again in a minute; if it keeps failing, check that the server is reachable "
                + "(dig TXT \(name)) or ask another one with --nameserver."))
            return report
        case .nameNotFound, .records([]):
            report.checks.append(.init("dns", .fail,
                "no TXT record at \(name) (the exact name looked up). "
                + "Fix: publish the record as type TXT at that name; in a web DNS panel for \(domain) "
                + "the name to enter is usually just \(selector)._domainkey. A record added a moment ago can take "
                + "a few minutes to appear, longer if the name was looked up before it existed."))
            report.checks += nearMissChecks(nearMisses, selector: selector, domain: domain)
            report.checks.append(noComparison(privateKey, keyPath: keyPath,
                                              why: "nothing is published at \(name) to compare with"))
            return report
        case .records(let list):
            records = list
        }
        report.found = true
        report.checks.append(.init("dns", .ok,
            records.count == 1 ? "found a TXT record at \(name)" : "found \(records.count) TXT records at \(name)"))

        // Several TXT records at one selector: the result is undefined (RFC 6376 §3.6.2.2).
        let keyRecords = records.filter(looksLikeKeyRecord)
        let candidates = keyRecords.isEmpty ? records : keyRecords
        if Set(keyRecords).count > 1 {
            report.checks.append(.init("several-records", .fail,
                "\(name) holds \(keyRecords.count) different DKIM key records; receivers use any one of them "
                + "(RFC 6376 §3.6.2.2: several TXT records at a selector give undefined results), so mail fails "
                + "whenever they pick the wrong one. Fix: delete every record at this name but the one for your "
                + "current key; to change keys, publish the new key under a new selector."))
        } else if records.count > 1 {
            let others = records.count - keyRecords.count
            report.checks.append(.init("several-records", .warn,
                "\(name) holds \(records.count) TXT records (\(keyRecords.count) DKIM key record, \(others) "
                + "other\(others == 1 ? "" : "s")); RFC 6376 §3.6.2.2 leaves the result undefined when a selector "
                + "has several TXT records, and some receivers read only one. Fix: delete the other records so the "
                + "DKIM record is alone at this name."))
        }
        // Judge the record that matches the private key if there is one, else the first.
        let judged = candidates.first { text in
            guard let privateKey, let key = publicKey(of: text, crypto: crypto) else { return false }
            return key.keyType == privateKey.keyType && key.publicKeyData == privateKey.publicKeyData
        } ?? candidates[0]
        report.record = judged
        let (checks, matches) = judgeRecord(judged, privateKey: privateKey, keyPath: keyPath,
                                            selector: selector, domain: domain, crypto: crypto)
        report.checks += checks
        report.matches = matches
        return report
    }

    /// The checks of one record's text, and whether its key is the private key's public half.
    static func judgeRecord(_ text: String, privateKey: (any DKIMSigningKey)?, keyPath: String,
                            selector: String, domain: String,
                            crypto: any DKIMCryptoProvider) -> ([KeyCheckReport.Check], Bool) {
        var checks: [KeyCheckReport.Check] = []
        let bytes = Array(text.utf8)
        let lenient = TagList.lenientValues(bytes, range: bytes.indices)

        // Text pasted along with the value.
        let hasQuotes = text.contains { "\"“”„".contains($0) } || text.hasPrefix("'") || text.hasSuffix("'")
        if hasQuotes {
            checks.append(.init("quotes", .fail,
                "the value contains quote characters (\"): the DNS panel stored them as part of the record, "
                + "and receivers cannot read it. Fix: paste the value without any quotes (the panel adds what DNS "
                + "needs itself); if you copied a zone-file line with several \"…\" \"…\" parts, join them into "
                + "one line, leaving out the quotes and the spaces between the parts."))
        }
        let hasBackslashes = text.contains("\\")
        if hasBackslashes {
            checks.append(.init("backslashes", .fail,
                "the value contains backslashes (\\): zone-file escapes such as \\; were pasted literally, and "
                + "receivers cannot read the record. Fix: remove every backslash (write ; not \\;)."))
        }
        if text.contains("_domainkey") || text.range(of: #"\bIN\s+TXT\b"#, options: .regularExpression) != nil {
            checks.append(.init("zone-line", .fail,
                "the value holds a whole zone-file line (the name, IN TXT or parentheses), not just the record. "
                + "Fix: paste only the value, v=DKIM1; k=…; p=…, and enter the name in the panel's name field."))
        }
        let pastedJunk = hasQuotes || hasBackslashes

        // The tag list.
        let record: KeyRecord
        do {
            record = try KeyRecord(parsing: text)
        } catch {
            let type = lenient["k"].flatMap { KeyRecord.KeyType(rawValue: $0.lowercased()) } ?? .rsa
            if let p = lenient["p"], let cut = truncation(of: p, type: type, privateKey: privateKey) {
                checks.append(truncatedCheck(cut, type: type, keyPath: keyPath))
            } else {
                checks.append(.init("syntax", .fail, "the record cannot be read: \(error.reason). "
                    + (pastedJunk ? "Removing the characters named above should fix this."
                                  : "Fix: publish the value exactly as dkimkey generate printed it: "
                                    + "v=DKIM1; k=…; p=… on one line, nothing else.")))
            }
            checks.append(noComparison(privateKey, keyPath: keyPath, why: "the record cannot be read"))
            return (checks, false)
        }
        checks.append(.init("syntax", .ok, "the record is a valid DKIM key record (k=\(record.keyType.rawValue))"))

        if record.isRevoked {
            checks.append(.init("revoked", .fail,
                "p= is empty: this publishes the key as revoked, so every signature made with selector \(selector) "
                + "fails. Fix: if this key is still in use, put its public key in p= (the value dkimkey generate "
                + "printed, or \(selector).txt next to the private key)."))
            checks.append(noComparison(privateKey, keyPath: keyPath, why: "the record publishes no key"))
            return (checks, false)
        }
        if let hashes = record.hashAlgorithms, !hashes.contains("sha256") {
            checks.append(.init("hash", .fail,
                "h=\(hashes.joined(separator: ":")) does not allow sha256, and receivers refuse sha1 (RFC 8301), so "
                + "no signature can verify. Fix: remove h= from the record (or write h=sha256)."))
        }
        if let services = record.serviceTypes, !services.contains("*"), !services.contains("email") {
            checks.append(.init("service", .fail,
                "s=\(services.joined(separator: ":")) does not include email, so receivers may not use this key "
                + "for mail. Fix: remove s= from the record."))
        }
        if record.isTesting {
            checks.append(.init("testing", .warn,
                "t=y is still set: it tells receivers you are only testing DKIM, and RFC 6376 lets them treat your "
                + "signed mail like unsigned mail. Fix: remove t=y (keep the rest of the record) once mail signed "
                + "with this key verifies."))
        }

        // The key in p=, read as the type k= names; a key of the other type is a k= mistake.
        var usable: (any DKIMVerifyingKey)?
        var misTyped: (any DKIMVerifyingKey)?
        do {
            let key = try crypto.verifyingKey(type: record.keyType, publicKeyData: record.publicKeyData)
            usable = key
            checks.append(sizeCheck(key, selector: selector, domain: domain))
        } catch {
            let other: KeyRecord.KeyType = record.keyType == .rsa ? .ed25519 : .rsa
            if error.code == .keyExponentUnusable {
                checks.append(.init("key", .fail,
                    "p= is not a usable key: \(error.reason), so receivers refuse it. Fix: make a new key with "
                    + "dkimkey generate (it uses 65537) and publish its record."))
            } else if let key = try? crypto.verifyingKey(type: other, publicKeyData: record.publicKeyData) {
                misTyped = key
                let said = record.keyType == .rsa && lenient["k"] == nil ? "has no k= (which means rsa)"
                                                                         : "says k=\(record.keyType.rawValue)"
                checks.append(.init("key-type", .fail,
                    "p= holds \(describe(other)) key, but the record \(said), so receivers cannot use it. "
                    + "Fix: write k=\(other.rawValue) in the record."))
            } else if let cut = truncation(of: lenient["p"] ?? "", type: record.keyType, privateKey: privateKey) {
                checks.append(truncatedCheck(cut, type: record.keyType, keyPath: keyPath))
            } else {
                checks.append(.init("key", .fail,
                    "p= is not a usable key: \(error.reason). Fix: publish the value exactly as dkimkey "
                    + "generate printed it."))
            }
        }

        // The private key on disk.
        guard let privateKey else {
            checks.append(noComparison(nil, keyPath: keyPath, why: ""))
            return (checks, false)
        }
        let correct = "v=DKIM1; k=\(privateKey.keyType.rawValue); p=" + Base64.encode(privateKey.publicKeyData)
        if let key = usable {
            if key.keyType == privateKey.keyType, key.publicKeyData == privateKey.publicKeyData {
                checks.append(.init("match", .ok, "the published key is the public half of \(keyPath)"))
                return (checks, true)
            }
            let what = key.keyType == privateKey.keyType
                ? "the record holds another key (an older key, or the key of another selector or server)"
                : "the record holds \(describe(key.keyType)) key, but \(keyPath) is \(describe(privateKey.keyType)) key"
            checks.append(.init("match", .fail,
                "the published key does not match the private key \(keyPath): \(what). Fix: publish the record for "
                + "\(keyPath), or sign with the private key this record belongs to. "
                + "The record for \(keyPath) is: \(correct)"))
        } else if let key = misTyped, key.publicKeyData == privateKey.publicKeyData {
            checks.append(.init("match", .fail,
                "p= is the public half of \(keyPath), but receivers cannot use it until k= is fixed (see key-type). "
                + "The record for \(keyPath) is: \(correct)"))
        } else if misTyped != nil {
            checks.append(.init("match", .fail,
                "the published key does not match the private key \(keyPath). Fix: publish the record for "
                + "\(keyPath): \(correct)"))
        } else {
            checks.append(noComparison(privateKey, keyPath: keyPath, why: "p= holds no usable key"))
        }
        return (checks, false)
    }

    // MARK: - Pieces

    /// The `match` check when the published key cannot be compared.
    static func noComparison(_ privateKey: (any DKIMSigningKey)?, keyPath: String,
                             why: String) -> KeyCheckReport.Check {
        guard let privateKey else {
            return .init("match", .fail,
                "no private key to compare with: \(keyPath) does not exist. Fix: name the key with --key PEM "
                + "(or the key store holding DOMAIN/SELECTOR.pem with --keys-dir).")
        }
        let correct = "v=DKIM1; k=\(privateKey.keyType.rawValue); p=" + Base64.encode(privateKey.publicKeyData)
        return .init("match", .fail,
            "cannot tell whether the published key matches \(keyPath): \(why). "
            + "The record for \(keyPath) is: \(correct)")
    }

    static func nearMissChecks(_ nearMisses: [NearMiss], selector: String, domain: String) -> [KeyCheckReport.Check] {
        var checks: [KeyCheckReport.Check] = []
        for miss in nearMisses {
            guard case .records(let list) = miss.result, !list.isEmpty else { continue }
            switch miss.mistake {
            case .doubledDomain:
                checks.append(.init("doubled-name", .fail,
                    "but there is a TXT record at \(miss.name): the DNS panel added .\(domain) to a name that "
                    + "already ended in it. Fix: rename that record to just \(selector)._domainkey (the panel "
                    + "adds .\(domain) itself)."))
            case .missingDomainKey where list.contains(where: looksLikeKeyRecord):
                checks.append(.init("missing-_domainkey", .fail,
                    "but there is a DKIM key record at \(miss.name): its name lacks ._domainkey. "
                    + "Fix: rename that record to \(selector)._domainkey."))
            case .missingDomainKey:
                break
            }
        }
        return checks
    }

    /// Whether a TXT record looks like a DKIM key record (not SPF, DMARC, a site verification…).
    static func looksLikeKeyRecord(_ text: String) -> Bool {
        let compact = String(text.filter { !$0.isWhitespace })
        if compact.contains("v=DKIM1") { return true }
        if compact.contains("v=spf1") || compact.contains("v=DMARC1") { return false }
        return compact.contains("p=")
    }

    /// The key in a record's text, when the record parses and holds one of the type k= names.
    static func publicKey(of text: String, crypto: any DKIMCryptoProvider) -> (any DKIMVerifyingKey)? {
        guard let record = try? KeyRecord(parsing: text), !record.isRevoked else { return nil }
        return try? crypto.verifyingKey(type: record.keyType, publicKeyData: record.publicKeyData)
    }

    /// A `p=` that is cut short: the characters published and the characters a whole key needs.
    struct Truncation {
        var have: Int
        var need: Int
        /// The key size, when known from the private key.
        var bits: Int?
        var fromPrivateKey: Bool
    }

    /// Whether `p=` is shorter than the key it should hold: the private key's `p=` when it is of
    /// that type and longer, else the length an RSA key's own DER header declares (44 characters
    /// for Ed25519).
    static func truncation(of p: String, type: KeyRecord.KeyType, privateKey: (any DKIMSigningKey)?) -> Truncation? {
        let value = p.filter { !$0.isWhitespace && !"\"“”„'\\".contains($0) }
        let have = value.utf8.count
        guard have > 0 else { return nil }
        if let privateKey, privateKey.keyType == type {
            let need = Base64.encode(privateKey.publicKeyData).utf8.count
            if have < need {
                return Truncation(have: have, need: need, bits: privateKey.bitCount, fromPrivateKey: true)
            }
            // Not shorter than the private key's (a key of another size?): ask the key's own header.
        }
        switch type {
        case .ed25519:
            return have < 44 ? Truncation(have: have, need: 44, bits: nil, fromPrivateKey: false) : nil
        case .rsa:
            // A DER SEQUENCE with its length in the header: 30 82 HH LL (or 30 81 LL, or 30 LL).
            guard have >= 8, let head = Base64.decode(String(value.prefix(8))), head.count == 6, head[0] == 0x30 else {
                return nil
            }
            let total: Int
            switch head[1] {
            case 0x82: total = 4 + (Int(head[2]) << 8 | Int(head[3]))
            case 0x81: total = 3 + Int(head[2])
            case let n where n < 0x80: total = 2 + Int(n)
            default: return nil
            }
            let need = (total + 2) / 3 * 4
            return have < need ? Truncation(have: have, need: need, bits: nil, fromPrivateKey: false) : nil
        }
    }

    static func truncatedCheck(_ cut: Truncation, type: KeyRecord.KeyType, keyPath: String) -> KeyCheckReport.Check {
        let whose: String
        if cut.fromPrivateKey {
            let size = type == .rsa ? "a \(cut.bits ?? 0)-bit RSA key" : "an Ed25519 key"
            whose = "the p= of \(keyPath), \(size), has \(cut.need)"
        } else {
            whose = type == .rsa ? "the key's own header says it needs \(cut.need)" : "an Ed25519 key needs \(cut.need)"
        }
        return .init("truncated", .fail,
            "p= is truncated: it holds \(cut.have) characters, but \(whose). The value was cut off, often by a DNS "
            + "panel that keeps only the first 255 characters, or by copying only one of the quoted parts of the "
            + "zone-file line. Fix: paste the whole value again (p= must be \(cut.need) characters); if the panel "
            + "cannot take more than 255 characters in one go, enter the value as several strings of at most 255.")
    }

    static func describe(_ type: KeyRecord.KeyType) -> String {
        type == .rsa ? "an RSA" : "an Ed25519"
    }

    /// Key type and size (RFC 8301 §3.2: RSA keys below 1024 bits are never valid, 2048 advised;
    /// verifiers must handle up to 4096).
    static func sizeCheck(_ key: any DKIMVerifyingKey, selector: String, domain: String) -> KeyCheckReport.Check {
        let bits = key.bitCount
        let newKey = "dkimkey generate NEWSELECTOR --domain \(domain)"
        switch key.keyType {
        case .ed25519:
            return .init("key", .ok,
                "an Ed25519 key (not every receiver verifies Ed25519 yet: sign with an RSA key as well)")
        case .rsa where bits < 1024:
            return .init("key", .fail,
                "an RSA key of \(bits) bits: receivers ignore RSA keys below 1024 bits (RFC 8301), so nothing "
                + "signed with it verifies. Fix: make a 2048-bit key under a new selector (\(newKey)) and publish it.")
        case .rsa where bits < 2048:
            return .init("key", .warn,
                "an RSA key of \(bits) bits: it works, but RFC 8301 advises at least 2048 bits. Fix: at your next "
                + "key change, make a 2048-bit key under a new selector (\(newKey)).")
        case .rsa where bits > 4096:
            return .init("key", .warn,
                "an RSA key of \(bits) bits: receivers are only required to handle keys up to 4096 bits (RFC 8301), "
                + "and some refuse larger ones. Fix: use a 2048-bit key under a new selector (\(newKey)).")
        case .rsa:
            return .init("key", .ok, "an RSA key of \(bits) bits")
        }
    }
}
