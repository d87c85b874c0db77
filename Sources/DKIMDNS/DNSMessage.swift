/// A DNS message read whole (RFC 1035 §4.1): the header, the questions and the records of the
/// answer, authority and additional sections, each with where it starts in the bytes, for the
/// answers that DNS UPDATE reads (RFC 2136 §2: the same four sections, named zone,
/// prerequisite, update and additional) and for TSIG, whose record comes last (RFC 8945).
struct DNSMessage {
    /// One resource record as it stands in the message.
    struct Record {
        /// Where the record starts: its owner name's first byte.
        var start: Int
        var owner: DNSName
        var type: UInt16
        var recordClass: UInt16
        var ttl: UInt32
        /// The RDATA's bytes within the message.
        var data: Range<Int>
    }

    let bytes: [UInt8]
    let id: UInt16
    /// The 16 flag bits of the header (RFC 1035 §4.1.1).
    let flags: UInt16
    let questions: [DNSResponse.Question]
    let answers: [Record]
    let authority: [Record]
    let additional: [Record]

    var isResponse: Bool { flags & 0x8000 != 0 }
    var opcode: UInt8 { UInt8((flags >> 11) & 0x0F) }
    /// AA: the answer comes from an authority for the zone (RFC 1035 §4.1.1).
    var isAuthoritative: Bool { flags & 0x0400 != 0 }
    /// The header's 4-bit RCODE.
    var responseCode: DNSResponseCode { DNSResponseCode(rawValue: flags & 0x000F) }

    /// Nil when the message is shorter than its counts say, or a name or record cannot be read.
    init?(_ bytes: [UInt8]) {
        var reader = DNSMessageReader(bytes)
        guard bytes.count <= DNSResponse.maximumSize, let id = reader.u16(), let flags = reader.u16(),
              let qd = reader.u16(), let an = reader.u16(), let ns = reader.u16(), let ar = reader.u16() else {
            return nil
        }
        var questions: [DNSResponse.Question] = []
        for _ in 0..<qd {
            guard let name = reader.name(), let type = reader.u16(), let recordClass = reader.u16() else { return nil }
            questions.append(DNSResponse.Question(name: name, type: type, recordClass: recordClass))
        }
        func records(_ count: UInt16) -> [Record]? {
            var out: [Record] = []
            for _ in 0..<count {
                let start = reader.offset
                guard let owner = reader.name(), let type = reader.u16(), let recordClass = reader.u16(),
                      let ttl = reader.u32(), let length = reader.u16().map(Int.init), length <= reader.remaining else {
                    return nil
                }
                out.append(Record(start: start, owner: owner, type: type, recordClass: recordClass, ttl: ttl,
                                  data: reader.offset..<(reader.offset + length)))
                reader.offset += length
            }
            return out
        }
        guard let answers = records(an), let authority = records(ns), let additional = records(ar) else { return nil }
        self.bytes = bytes
        self.id = id
        self.flags = flags
        self.questions = questions
        self.answers = answers
        self.authority = authority
        self.additional = additional
    }
}
