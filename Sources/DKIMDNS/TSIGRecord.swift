/// The TSIG record (RFC 8945 §4.2): owner the key's name, type TSIG (250), class ANY, TTL 0,
/// and RDATA of the algorithm's name, the time signed (48 bits, seconds since 1970), the fudge,
/// the MAC, the message's original id, an error (a TSIG RCODE) and other data (the server's
/// time for BADTIME, RFC 8945 §5.2.3).
struct TSIGRecord: Equatable {
    static let type: UInt16 = 250
    /// Class ANY (RFC 8945 §4.2).
    static let recordClass: UInt16 = 255

    var keyName: DNSName
    var algorithm: DNSName
    var timeSigned: UInt64
    var fudge: UInt16
    var mac: [UInt8]
    var originalID: UInt16
    var error: DNSResponseCode
    var otherData: [UInt8]

    /// The record in wire form, its names uncompressed and in canonical form (RFC 8945 §4.2
    /// says the algorithm name is written in canonical form; the key name is written likewise).
    var wire: [UInt8] {
        var rdata = algorithm.canonicalWire
        rdata += DNSWire.u48(timeSigned) + DNSWire.u16(fudge) + DNSWire.u16(UInt16(mac.count)) + mac
        rdata += DNSWire.u16(originalID) + DNSWire.u16(error.rawValue)
        rdata += DNSWire.u16(UInt16(otherData.count)) + otherData
        return keyName.canonicalWire + DNSWire.u16(Self.type) + DNSWire.u16(Self.recordClass) + [0, 0, 0, 0]
            + DNSWire.u16(UInt16(rdata.count)) + rdata
    }

    /// The TSIG variables that the MAC covers after the message (RFC 8945 §4.3): the key name
    /// and algorithm name in canonical form, class ANY, TTL 0, the time signed, the fudge, the
    /// error and the other data (not the MAC nor the original id).
    var variables: [UInt8] {
        keyName.canonicalWire + DNSWire.u16(Self.recordClass) + [0, 0, 0, 0] + algorithm.canonicalWire
            + DNSWire.u48(timeSigned) + DNSWire.u16(fudge) + DNSWire.u16(error.rawValue)
            + DNSWire.u16(UInt16(otherData.count)) + otherData
    }

    init(keyName: DNSName, algorithm: DNSName, timeSigned: UInt64, fudge: UInt16, mac: [UInt8], originalID: UInt16,
         error: DNSResponseCode = .noError, otherData: [UInt8] = []) {
        self.keyName = keyName
        self.algorithm = algorithm
        self.timeSigned = timeSigned
        self.fudge = fudge
        self.mac = mac
        self.originalID = originalID
        self.error = error
        self.otherData = otherData
    }

    /// Reads the TSIG record `record` of `message`; nil when it is not one or its RDATA is
    /// malformed (fields that run past the RDATA, or bytes left over).
    init?(_ record: DNSMessage.Record, in message: DNSMessage) {
        guard record.type == Self.type, record.recordClass == Self.recordClass else { return nil }
        var reader = DNSMessageReader(message.bytes, offset: record.data.lowerBound)
        guard let algorithm = reader.name(), reader.offset <= record.data.upperBound,
              let high = reader.u16(), let low = reader.u32(), let fudge = reader.u16(),
              let macSize = reader.u16(), let mac = reader.bytes(Int(macSize)), let originalID = reader.u16(),
              let error = reader.u16(), let otherSize = reader.u16(), let other = reader.bytes(Int(otherSize)),
              reader.offset == record.data.upperBound else { return nil }
        self.init(keyName: record.owner, algorithm: algorithm, timeSigned: UInt64(high) << 32 | UInt64(low),
                  fudge: fudge, mac: Array(mac), originalID: originalID, error: DNSResponseCode(rawValue: error),
                  otherData: Array(other))
    }

    /// The server's clock in a BADTIME answer's other data (RFC 8945 §5.2.3: 6 bytes).
    var serverTime: UInt64? {
        guard otherData.count == 6 else { return nil }
        return otherData.reduce(0) { $0 << 8 | UInt64($1) }
    }
}
