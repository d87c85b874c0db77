/// Integers as DNS messages write them: big-endian, of 16, 32 or 48 bits (RFC 1035 §2.3.2;
/// 48 bits for TSIG's time signed, RFC 8945 §4.2).
enum DNSWire {
    static func u16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }

    static func u32(_ value: UInt32) -> [UInt8] { u16(UInt16(value >> 16)) + u16(UInt16(value & 0xFFFF)) }

    static func u48(_ value: UInt64) -> [UInt8] { (0..<6).reversed().map { UInt8((value >> (8 * UInt64($0))) & 0xFF) } }
}
