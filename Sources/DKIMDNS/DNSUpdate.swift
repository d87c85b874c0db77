import DKIM

/// A DNS UPDATE message (RFC 2136 §2): the zone to change, prerequisites that must hold, and the
/// changes, carried out in order and all or none (RFC 2136 §3.4.2, §3.4.2.1).
///
/// Names are written in full (no compression); the class is IN.
public struct DNSUpdate: Sendable, Hashable {
    /// A condition on the zone checked before any change (RFC 2136 §2.4, §3.2).
    public enum Prerequisite: Sendable, Hashable {
        /// The name owns at least one record (RFC 2136 §2.4.4); else the server answers NXDOMAIN.
        case nameIsInUse(DNSName)
        /// The name owns no record (RFC 2136 §2.4.5); else the server answers YXDOMAIN.
        case nameIsNotInUse(DNSName)

        public var name: DNSName {
            switch self {
            case .nameIsInUse(let name), .nameIsNotInUse(let name): name
            }
        }
    }

    /// One change (RFC 2136 §2.5).
    public enum Change: Sendable, Hashable {
        /// Adds a TXT record holding `value` (RFC 2136 §2.5.1), cut into character-strings of at
        /// most 255 bytes (RFC 1035 §3.3.14), which a DKIM verifier joins again (RFC 6376 §3.6.2.2).
        case addTXT(DNSName, value: String, ttl: UInt32)
        /// Deletes the records of one type at a name (RFC 2136 §2.5.2); none there is no error.
        case deleteRecords(DNSName, type: DNSRecordType)
        /// Deletes every record at a name (RFC 2136 §2.5.3), except the SOA and NS at the apex.
        case deleteName(DNSName)

        public var name: DNSName {
            switch self {
            case .addTXT(let name, _, _), .deleteRecords(let name, _), .deleteName(let name): name
            }
        }
    }

    /// The zone: its apex, whose SOA the zone section names (RFC 2136 §2.3).
    public var zone: DNSName
    public var prerequisites: [Prerequisite]
    public var changes: [Change]

    public init(zone: DNSName, prerequisites: [Prerequisite] = [], changes: [Change]) {
        self.zone = zone
        self.prerequisites = prerequisites
        self.changes = changes
    }

    /// The largest TTL (RFC 2181 §8: 2^31 - 1 seconds).
    public static let maximumTTL: UInt32 = 0x7FFF_FFFF

    /// Room kept below the 65535-byte limit for the TSIG record appended when signing.
    static let tsigRoom = 512

    /// The message with id `id` and no TSIG (RFC 2136 §2.2: opcode UPDATE, the counts of the
    /// zone, prerequisite and update sections). Throws `.invalidArgument` for a name outside the
    /// zone (the server would answer NOTZONE, RFC 2136 §3.4.1.3), a TTL above 2^31 - 1, no
    /// change, or a message too large for DNS.
    public func message(id: UInt16) throws(DKIMError) -> [UInt8] {
        guard !changes.isEmpty else { throw DKIMError(.invalidArgument, "a DNS update needs at least one change") }
        for name in prerequisites.map(\.name) + changes.map(\.name) where !name.isWithin(zone) {
            throw DKIMError(.invalidArgument, "\(name) is not in the zone \(zone), so the update cannot change it "
                            + "(RFC 2136 §3.4.1.3); give the zone that holds \(name)")
        }
        guard prerequisites.count <= 0xFFFF, changes.count <= 0xFFFF else {
            throw DKIMError(.invalidArgument, "a DNS update holds at most 65535 prerequisites and 65535 changes")
        }
        var out = DNSWire.u16(id) + [0x28, 0x00]  // QR 0, opcode 5 (UPDATE), RCODE 0
        out += DNSWire.u16(1) + DNSWire.u16(UInt16(prerequisites.count)) + DNSWire.u16(UInt16(changes.count))
        out += DNSWire.u16(0)
        out += zone.wire + DNSWire.u16(6) + DNSWire.u16(Self.classIN)  // the zone's SOA, class IN
        for prerequisite in prerequisites {
            switch prerequisite {
            case .nameIsInUse(let name): out += Self.record(name, type: Self.typeANY, class: Self.classANY)
            case .nameIsNotInUse(let name): out += Self.record(name, type: Self.typeANY, class: Self.classNONE)
            }
        }
        for change in changes {
            switch change {
            case .addTXT(let name, let value, let ttl):
                guard ttl <= Self.maximumTTL else {
                    throw DKIMError(.invalidArgument, "the TTL \(ttl) of \(name) is above \(Self.maximumTTL) "
                                    + "seconds (RFC 2181 §8)")
                }
                let data = Self.characterStrings(value).flatMap { [UInt8($0.count)] + $0 }
                guard data.count <= 0xFFFF else {
                    throw DKIMError(.invalidArgument, "the TXT value for \(name) is \(value.utf8.count) bytes, more "
                                    + "than one record holds (65535 bytes with its lengths)")
                }
                out += Self.record(name, type: DNSRecordType.txt.rawValue, class: Self.classIN, ttl: ttl, data: data)
            case .deleteRecords(let name, let type):
                out += Self.record(name, type: type.rawValue, class: Self.classANY)
            case .deleteName(let name):
                out += Self.record(name, type: Self.typeANY, class: Self.classANY)
            }
        }
        guard out.count <= DNSResponse.maximumSize - Self.tsigRoom else {
            throw DKIMError(.invalidArgument, "the DNS update for \(zone) is \(out.count) bytes, too large for one "
                            + "DNS message; send its changes in several updates")
        }
        return out
    }

    /// A TXT value as character-strings of at most 255 bytes each, in order (RFC 1035
    /// §3.3.14); cut at any byte, since a DKIM verifier joins them with nothing between
    /// (RFC 6376 §3.6.2.2). An empty value is one empty string.
    public static func characterStrings(_ value: String) -> [[UInt8]] {
        let bytes = Array(value.utf8)
        guard !bytes.isEmpty else { return [[]] }
        return stride(from: 0, to: bytes.count, by: 255).map { Array(bytes[$0..<min($0 + 255, bytes.count)]) }
    }

    static let classIN: UInt16 = 1
    /// Class NONE (RFC 2136 §1.3: 254), for "name is not in use".
    static let classNONE: UInt16 = 254
    static let classANY: UInt16 = 255
    static let typeANY: UInt16 = 255

    /// A record with TTL and RDATA, 0 and empty unless given (RFC 2136 §2.4, §2.5).
    private static func record(_ name: DNSName, type: UInt16, class recordClass: UInt16, ttl: UInt32 = 0,
                               data: [UInt8] = []) -> [UInt8] {
        name.wire + DNSWire.u16(type) + DNSWire.u16(recordClass)
            + DNSWire.u32(ttl)
            + DNSWire.u16(UInt16(data.count)) + data
    }
}
