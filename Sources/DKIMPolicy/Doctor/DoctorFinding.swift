/// One line of `dkimkey doctor`: what was checked, how it came out, and in plain words what was
/// found and, unless it is fine, how to fix it; with the record to publish where one is missing.
public struct DoctorFinding: Sendable, Equatable {
    public enum Status: String, Sendable, Equatable, Comparable {
        case ok, warn, fail

        public static func < (a: Status, b: Status) -> Bool {
            let order: [Status] = [.ok, .warn, .fail]
            return order.firstIndex(of: a)! < order.firstIndex(of: b)!
        }
    }

    public enum Area: String, Sendable, Equatable, CaseIterable {
        case dkim, dmarc, spf
    }

    /// A DNS record to publish (TXT).
    public struct Record: Sendable, Equatable {
        public var name: String
        public var type: String
        public var value: String

        public init(name: String, type: String = "TXT", value: String) {
            self.name = name
            self.type = type
            self.value = value
        }
    }

    public var area: Area
    /// A short name for scripts: `record`, `lookups`, `relay`, `alignment`, …
    public var check: String
    public var status: Status
    /// What it is about, when the area has several (a selector's key record, a relay address).
    public var subject: String?
    public var message: String
    /// More lines under the finding (the SPF lookup tree).
    public var details: [String]
    public var publish: Record?

    public init(_ area: Area, _ check: String, _ status: Status, _ message: String, subject: String? = nil,
                details: [String] = [], publish: Record? = nil) {
        self.area = area
        self.check = check
        self.status = status
        self.subject = subject
        self.message = message
        self.details = details
        self.publish = publish
    }
}
