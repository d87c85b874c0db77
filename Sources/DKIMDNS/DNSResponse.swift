/// Reads the TXT records out of a DNS response message (RFC 1035 §4.1).
public enum DNSResponse {
    /// The TXT records of an answer and the smallest TTL among them.
    public struct Answer: Sendable, Equatable {
        public var records: [String]
        public var ttl: UInt32?
    }

    /// The TXT records in the answer section, each record's character-strings joined with
    /// nothing between them (RFC 6376 §3.6.2.2). Records of other types (the CNAMEs of a
    /// chain) are skipped; their TTLs still bound the answer's. Returns nil when the message
    /// is malformed.
    public static func answer(in message: [UInt8]) -> Answer? {
        guard message.count >= 12 else { return nil }
        func u16(_ i: Int) -> Int { Int(message[i]) << 8 | Int(message[i + 1]) }
        func u32(_ i: Int) -> UInt32 {
            UInt32(message[i]) << 24 | UInt32(message[i + 1]) << 16 | UInt32(message[i + 2]) << 8 | UInt32(message[i + 3])
        }
        let questions = u16(4)
        let answers = u16(6)
        var offset = 12
        func skipName() -> Bool {
            var labels = 0
            while offset < message.count {
                let length = Int(message[offset])
                if length == 0 { offset += 1; return true }
                if length & 0xC0 == 0xC0 { offset += 2; return offset <= message.count }
                if length & 0xC0 != 0 { return false }
                offset += 1 + length
                labels += 1
                if labels > 128 { return false }
            }
            return false
        }
        for _ in 0..<questions {
            guard skipName(), offset + 4 <= message.count else { return nil }
            offset += 4
        }
        var records: [String] = []
        var ttl: UInt32?
        for _ in 0..<answers {
            guard skipName(), offset + 10 <= message.count else { return nil }
            let type = u16(offset)
            let recordTTL = u32(offset + 4)
            let length = u16(offset + 8)
            offset += 10
            guard offset + length <= message.count else { return nil }
            if type == 16 || type == 5 { ttl = min(ttl ?? recordTTL, recordTTL) }
            if type == 16 {
                var joined: [UInt8] = []
                var i = offset
                while i < offset + length {
                    let n = Int(message[i])
                    guard i + 1 + n <= offset + length else { return nil }
                    joined.append(contentsOf: message[(i + 1)..<(i + 1 + n)])
                    i += 1 + n
                }
                records.append(String(decoding: joined, as: UTF8.self))
            }
            offset += length
        }
        return Answer(records: records, ttl: ttl)
    }

    /// The TXT records of an answer (see `answer(in:)`).
    public static func txtRecords(in message: [UInt8]) -> [String]? {
        answer(in: message)?.records
    }
}
