/// A DKIM key record as published in DNS TXT (RFC 6376 §3.6.1, RFC 8463 §4).
public struct KeyRecord: Sendable, Equatable {
    /// `k=`
    public enum KeyType: String, Sendable, CaseIterable, Hashable {
        case rsa
        case ed25519
    }

    /// `k=`, rsa when absent.
    public var keyType: KeyType
    /// `p=`, decoded. Empty means the key has been revoked.
    public var publicKeyData: [UInt8]
    /// `h=`: acceptable hash algorithms; nil when absent (all allowed).
    public var hashAlgorithms: [String]?
    /// `s=`: service types; nil when absent (`*`).
    public var serviceTypes: [String]?
    /// `t=y`: the domain is testing DKIM.
    public var isTesting: Bool
    /// `t=s`: the `i=` domain must equal `d=` exactly.
    public var requiresStrictIdentity: Bool
    /// `n=`: notes for people.
    public var notes: String?

    public init(keyType: KeyType, publicKeyData: [UInt8], hashAlgorithms: [String]? = nil,
                serviceTypes: [String]? = nil, isTesting: Bool = false, requiresStrictIdentity: Bool = false,
                notes: String? = nil) {
        self.keyType = keyType
        self.publicKeyData = publicKeyData
        self.hashAlgorithms = hashAlgorithms
        self.serviceTypes = serviceTypes
        self.isTesting = isTesting
        self.requiresStrictIdentity = requiresStrictIdentity
        self.notes = notes
    }

    /// Whether `p=` is empty: RFC 6376 §3.6.1, the key has been revoked.
    public var isRevoked: Bool { publicKeyData.isEmpty }
}

extension KeyRecord {
    /// Parses the text of a TXT record (its strings already joined, RFC 6376 §3.6.2.2).
    ///
    /// Rules enforced (RFC 6376 §3.6.1): `v=`, if present, must be `DKIM1`;
    /// `p=` is required; `k=` must be a known key type; unknown tags and unknown `t=` flags
    /// are ignored. A `p=` that is not base64 is a syntax error.
    /// Longer record texts are refused: an RSA-8192 key record is about 1,500 bytes.
    public static let maximumLength = 16384

    public init(parsing text: String) throws(DKIMError) {
        guard text.utf8.count <= Self.maximumLength else {
            throw DKIMError(.keySyntax,
                "the key record is \(text.utf8.count) bytes long; at most \(Self.maximumLength) are accepted")
        }
        let tags: TagList
        do {
            tags = try TagList(parsing: text)
        } catch {
            throw DKIMError(.keySyntax, "the key record is not a valid tag list: \(error.reason)")
        }
        // RFC 6376 §3.6.1 says v= must come first when present; like the deployed verifiers,
        // a v=DKIM1 elsewhere is tolerated. Any other version is not a DKIM key.
        if let v = tags["v"], v != "DKIM1" {
            throw DKIMError(.keySyntax,
                "v=\(Printable.escaped(v, limit: 40)) is not DKIM1: this is not a DKIM key record")
        }
        // Every known tag's value against its grammar (§3.6.1); unknown tags are ignored.
        for tag in tags.tags {
            if let known = KeyRecordTag(rawValue: tag.name), !known.isWellFormed(tag.value) {
                throw known.malformed(tag.value)
            }
        }
        let keyType: KeyType
        if let k = tags["k"] {
            guard let known = KeyType(rawValue: k.lowercased()) else {
                throw DKIMError(.keySyntax, "k=\(k) is not a known key type (rsa, ed25519)")
            }
            keyType = known
        } else {
            keyType = .rsa
        }
        guard let p = tags["p"] else {
            throw DKIMError(.keySyntax, "the key record has no p= tag")
        }
        guard let data = Base64.decode(p) else {
            throw DKIMError(.keySyntax, "p= is not valid base64")
        }
        let flags = tags["t"].map(KeyRecordTag.elements) ?? []
        self.init(keyType: keyType, publicKeyData: data,
                  hashAlgorithms: tags["h"].map(KeyRecordTag.elements),
                  serviceTypes: tags["s"].map(KeyRecordTag.elements),
                  isTesting: flags.contains("y"), requiresStrictIdentity: flags.contains("s"),
                  notes: tags["n"])
    }

    /// The record text to publish: `v=DKIM1; k=…; [h=…; s=…; t=…;] p=…`.
    public var txtValue: String {
        var parts = ["v=DKIM1", "k=\(keyType.rawValue)"]
        if let h = hashAlgorithms { parts.append("h=" + h.joined(separator: ":")) }
        if let s = serviceTypes { parts.append("s=" + s.joined(separator: ":")) }
        var flags: [String] = []
        if isTesting { flags.append("y") }
        if requiresStrictIdentity { flags.append("s") }
        if !flags.isEmpty { parts.append("t=" + flags.joined(separator: ":")) }
        parts.append("p=" + Base64.encode(publicKeyData))
        return parts.joined(separator: "; ")
    }

    /// The record text split into DNS character-strings of at most 255 bytes (RFC 1035 §3.3).
    public var txtStrings: [String] {
        let bytes = Array(txtValue.utf8)
        return stride(from: 0, to: bytes.count, by: 255).map {
            String(decoding: bytes[$0..<min($0 + 255, bytes.count)], as: UTF8.self)
        }
    }

    /// A zone-file line publishing this record at `selector._domainkey.domain`.
    public func zoneFileLine(selector: String, domain: String) -> String {
        let strings = txtStrings.map { "\"\($0)\"" }.joined(separator: " ")
        return "\(selector)._domainkey.\(domain).\tIN\tTXT\t( \(strings) )"
    }
}
