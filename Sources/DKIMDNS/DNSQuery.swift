import DKIM
/// One question to send, and the test an answer must pass to be taken for it.
struct DNSQuery: Sendable {
    let name: DNSName
    let type: DNSRecordType

    var question: DNSResponse.Question { DNSResponse.Question(name: name, type: type.rawValue) }

    /// The query message (RFC 1035 §4.1): a header with RD set and one question, and when
    /// `udpPayloadSize` is given an EDNS0 OPT record offering that many bytes per UDP answer
    /// (RFC 6891 §6.1.2: root owner, type 41, the size in the class field, TTL and RDLEN 0).
    func message(id: UInt16, udpPayloadSize: UInt16?) -> [UInt8] {
        var out: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0,
                            udpPayloadSize == nil ? 0 : 1]
        out += name.wire
        out += [UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xFF), 0, 1]
        if let size = udpPayloadSize {
            out += [0, 0, 41, UInt8(size >> 8), UInt8(size & 0xFF), 0, 0, 0, 0, 0, 0]
        }
        return out
    }

    /// Whether a message answers this query sent with `id` (RFC 5452 §9.1): a response to a
    /// standard query with the same id and the same single question, the name compared without
    /// regard to case. Anything else is ignored, not taken as a failure, so a forged or stray
    /// datagram cannot end the lookup. (The source address is checked by the caller.)
    func isAnswered(by header: DNSResponse.Header, _ question: DNSResponse.Question?, id: UInt16) -> Bool {
        header.id == id && header.isResponse && header.opcode == 0 && header.questionCount == 1
            && question == self.question
    }
}
