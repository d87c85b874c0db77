import DKIM

/// What the tool found about one DKIM key of the domain, handed to the doctor: the key on disk,
/// whether its published record passed `dkimkey check`, and that check's lines.
public struct DKIMKeyFacts: Sendable {
    /// One line of the key check (the `dkimkey check` names: dns, syntax, truncated, match, …).
    public struct Check: Sendable {
        public var check: String
        public var status: DoctorFinding.Status
        public var message: String
        public init(_ check: String, _ status: DoctorFinding.Status, _ message: String) {
            self.check = check
            self.status = status
            self.message = message
        }
    }

    public var selector: String
    /// The signing domain, `d=`.
    public var domain: String
    /// The private key's file.
    public var keyPath: String
    /// The private key's type and size, when it could be read.
    public var keyType: KeyRecord.KeyType?
    public var bits: Int?
    /// Whether the record published at `SELECTOR._domainkey.DOMAIN` is usable and matches the key.
    public var published: Bool
    public var checks: [Check]
    /// The record to publish for this key (`v=DKIM1; k=…; p=…`), when the key could be read.
    public var correctRecord: String?
    /// Days since the key file was written, when known.
    public var ageDays: Int?

    public init(selector: String, domain: String, keyPath: String, keyType: KeyRecord.KeyType?, bits: Int?,
                published: Bool, checks: [Check], correctRecord: String?, ageDays: Int?) {
        self.selector = selector
        self.domain = domain
        self.keyPath = keyPath
        self.keyType = keyType
        self.bits = bits
        self.published = published
        self.checks = checks
        self.correctRecord = correctRecord
        self.ageDays = ageDays
    }

    public var queryName: String { "\(selector)._domainkey.\(domain)" }
}
