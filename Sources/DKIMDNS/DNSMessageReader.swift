/// Reads the fields of a DNS message with every read checked against its end (RFC 1035 §4.1).
struct DNSMessageReader {
    let message: [UInt8]
    var offset: Int

    init(_ message: [UInt8], offset: Int = 0) {
        self.message = message
        self.offset = offset
    }

    var remaining: Int { message.count - offset }

    mutating func u8() -> UInt8? {
        guard offset < message.count else { return nil }
        defer { offset += 1 }
        return message[offset]
    }

    mutating func u16() -> UInt16? {
        guard offset + 2 <= message.count else { return nil }
        defer { offset += 2 }
        return UInt16(message[offset]) << 8 | UInt16(message[offset + 1])
    }

    mutating func u32() -> UInt32? {
        guard let high = u16(), let low = u16() else { return nil }
        return UInt32(high) << 16 | UInt32(low)
    }

    mutating func bytes(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, offset + count <= message.count else { return nil }
        defer { offset += count }
        return message[offset..<(offset + count)]
    }

    /// A name, following compression pointers (RFC 1035 §4.1.4). Each pointer must point before
    /// the labels read so far, so a pointer loop cannot make it spin; the name may not exceed
    /// 255 bytes (§2.3.4). The offset moves past the name as it stands at this place.
    mutating func name() -> DNSName? {
        var labels: [[UInt8]] = []
        var length = 1
        var position = offset
        var lowest = offset
        var end: Int?
        while true {
            guard position < message.count else { return nil }
            let byte = Int(message[position])
            if byte == 0 {
                position += 1
                break
            }
            switch byte & 0xC0 {
            case 0xC0:
                guard position + 1 < message.count else { return nil }
                let target = (byte & 0x3F) << 8 | Int(message[position + 1])
                guard target < lowest else { return nil }
                if end == nil { end = position + 2 }
                position = target
                lowest = target
            case 0:
                guard position + 1 + byte <= message.count else { return nil }
                length += 1 + byte
                guard length <= DNSName.maximumWireLength else { return nil }
                labels.append(Array(message[(position + 1)..<(position + 1 + byte)]))
                position += 1 + byte
            default:
                return nil  // the label types 01 and 10 are reserved (RFC 6891 §5)
            }
        }
        offset = end ?? position
        return DNSName(checkedLabels: labels)
    }
}
