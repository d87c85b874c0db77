import DKIM
/// Reads DNS response messages (RFC 1035 §4.1): the header and question, which tell whether a
/// message answers a query, and the records of the answer section, following CNAME chains.
public enum DNSResponse {
    /// The largest DNS message, over TCP or UDP (a 16-bit length, RFC 1035 §4.2.2).
    public static let maximumSize = 65535

    /// How many CNAMEs a chain may have in one answer (loops are caught before this).
    public static let maximumCNAMEs = 16

    /// The fixed 12-byte header (RFC 1035 §4.1.1).
    public struct Header: Sendable, Equatable {
        public var id: UInt16
        /// QR: this is a response.
        public var isResponse: Bool
        public var opcode: UInt8
        /// TC: the message was cut to fit a UDP datagram (RFC 2181 §9).
        public var isTruncated: Bool
        /// RCODE: 0 no error, 1 FORMERR, 2 SERVFAIL, 3 NXDOMAIN, 4 NOTIMP, 5 REFUSED.
        public var responseCode: UInt8
        public var questionCount: Int
        public var answerCount: Int
        public var authorityCount: Int
        public var additionalCount: Int
    }

    /// One entry of the question section (RFC 1035 §4.1.2).
    public struct Question: Sendable, Hashable {
        public var name: DNSName
        public var type: UInt16
        public var recordClass: UInt16

        public init(name: DNSName, type: UInt16, recordClass: UInt16 = 1) {
            self.name = name
            self.type = type
            self.recordClass = recordClass
        }
    }

    /// The header and the first question, or nil when even they cannot be read: such a message
    /// cannot be matched to a query and is ignored.
    public static func envelope(in message: [UInt8]) -> (header: Header, question: Question?)? {
        var reader = DNSMessageReader(message)
        guard message.count <= maximumSize, let header = header(&reader) else { return nil }
        guard header.questionCount > 0 else { return (header, nil) }
        guard let question = question(&reader) else { return nil }
        return (header, question)
    }

    /// What a response says about `question`: RCODE 3 is NXDOMAIN; otherwise the records of the
    /// question's type at the end of the CNAME chain that starts at its name (RFC 1034 §3.6.2,
    /// §4.3.2), NODATA when there are none. A message that cannot be read is `.malformed`.
    public static func lookupResult(in message: [UInt8], for question: Question) -> DNSLookupResult {
        var reader = DNSMessageReader(message)
        guard message.count <= maximumSize, let header = header(&reader) else { return .temporaryFailure(.malformed) }
        switch header.responseCode {
        case 0: break
        case 2: return .temporaryFailure(.serverFailure)
        case 3: return .nameNotFound
        case 5: return .temporaryFailure(.refused)
        default: return .temporaryFailure(.responseCode(header.responseCode))
        }
        guard let records = answerRecords(&reader, header: header) else { return .temporaryFailure(.malformed) }
        return follow(question, through: records)
    }

    /// One record of the answer section; `data` is nil for types the client does not read.
    struct Record {
        var owner: DNSName
        var type: UInt16
        var recordClass: UInt16
        var ttl: UInt32
        var data: DNSRecord?
    }

    private static func header(_ reader: inout DNSMessageReader) -> Header? {
        guard let id = reader.u16(), let flags = reader.u16(), let qd = reader.u16(), let an = reader.u16(),
              let ns = reader.u16(), let ar = reader.u16() else { return nil }
        return Header(id: id, isResponse: flags & 0x8000 != 0, opcode: UInt8((flags >> 11) & 0x0F),
                      isTruncated: flags & 0x0200 != 0, responseCode: UInt8(flags & 0x000F),
                      questionCount: Int(qd), answerCount: Int(an), authorityCount: Int(ns), additionalCount: Int(ar))
    }

    private static func question(_ reader: inout DNSMessageReader) -> Question? {
        guard let name = reader.name(), let type = reader.u16(), let recordClass = reader.u16() else { return nil }
        return Question(name: name, type: type, recordClass: recordClass)
    }

    /// The answer section's records, the questions skipped; nil when any of it is malformed.
    static func answerRecords(_ reader: inout DNSMessageReader, header: Header) -> [Record]? {
        for _ in 0..<header.questionCount {
            guard question(&reader) != nil else { return nil }
        }
        var records: [Record] = []
        for _ in 0..<header.answerCount {
            guard let owner = reader.name(), let type = reader.u16(), let recordClass = reader.u16(),
                  let ttl = reader.u32(), let length = reader.u16().map(Int.init), length <= reader.remaining else {
                return nil
            }
            let end = reader.offset + length
            var data: DNSRecord?
            if recordClass == 1, let known = DNSRecordType(rawValue: type) {
                guard let parsed = recordData(known, &reader, end: end) else { return nil }
                data = parsed
            }
            reader.offset = end
            // RFC 2181 §8: a TTL with the top bit set is read as zero.
            records.append(Record(owner: owner, type: type, recordClass: recordClass,
                                  ttl: ttl & 0x8000_0000 == 0 ? ttl : 0, data: data))
        }
        return records
    }

    private static func recordData(_ type: DNSRecordType, _ reader: inout DNSMessageReader, end: Int) -> DNSRecord? {
        let start = reader.offset
        let data: DNSRecord?
        switch type {
        case .a: data = end - start == 4 ? reader.bytes(4).map { .a(Array($0)) } : nil
        case .aaaa: data = end - start == 16 ? reader.bytes(16).map { .aaaa(Array($0)) } : nil
        case .cname: data = reader.name().map { .cname($0.description) }
        case .ptr: data = reader.name().map { .ptr($0.description) }
        case .mx:
            guard let preference = reader.u16(), let exchange = reader.name() else { return nil }
            data = .mx(preference: preference, exchange: exchange.description)
        case .txt:
            var joined: [UInt8] = []
            while reader.offset < end {
                guard let length = reader.u8(), reader.offset + Int(length) <= end,
                      let string = reader.bytes(Int(length)) else { return nil }
                joined += string
            }
            data = .txt(String(decoding: joined, as: UTF8.self))
        }
        return reader.offset == end ? data : nil
    }

    /// The records of the question's type at its name, or at the end of the CNAME chain from it.
    static func follow(_ question: Question, through records: [Record]) -> DNSLookupResult {
        var name = question.name
        var visited: Set<DNSName> = [name]
        var ttl = UInt32.max
        while true {
            let here = records.filter { $0.owner == name && $0.recordClass == question.recordClass }
            let matching = here.filter { $0.type == question.type }
            if !matching.isEmpty {
                let data = matching.compactMap(\.data)
                guard data.count == matching.count else { return .noData }
                let answerTTL = matching.reduce(ttl) { min($0, $1.ttl) }
                return .answer(DNSAnswer(records: data, ttl: answerTTL,
                                         canonicalName: name == question.name ? nil : name.description))
            }
            guard let alias = here.first(where: { $0.type == DNSRecordType.cname.rawValue }),
                  case .cname(let target)? = alias.data, let next = DNSName(target) else { return .noData }
            guard visited.count <= maximumCNAMEs, visited.insert(next).inserted else {
                return .temporaryFailure(.cnameLoop)
            }
            ttl = min(ttl, alias.ttl)
            name = next
        }
    }
}

extension DNSResponse {
    /// The TXT records of an answer and the smallest TTL among them.
    public struct Answer: Sendable, Equatable {
        public var records: [String]
        public var ttl: UInt32?
    }

    /// The TXT records of an answer, following the CNAME chain from the question's name, each
    /// record's character-strings joined with nothing between them (RFC 6376 §3.6.2.2); the
    /// TTL is the smallest of the chain's and the records'. Returns nil when the message is
    /// malformed or has no question.
    public static func answer(in message: [UInt8]) -> Answer? {
        guard let (_, question) = envelope(in: message), var question else { return nil }
        question.type = DNSRecordType.txt.rawValue
        switch lookupResult(in: message, for: question) {
        case .answer(let answer): return Answer(records: answer.records.compactMap {
            if case .txt(let text) = $0 { text } else { nil }
        }, ttl: answer.ttl)
        case .noData, .nameNotFound: return Answer(records: [], ttl: nil)
        case .temporaryFailure: return nil
        }
    }

    /// The TXT records of an answer (see `answer(in:)`).
    public static func txtRecords(in message: [UInt8]) -> [String]? {
        answer(in: message)?.records
    }
}
