/// Byte constants and classes used by the RFC 5322 / RFC 6376 grammars.
enum ASCII {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let equals: UInt8 = 0x3D
    static let crlf: [UInt8] = [0x0D, 0x0A]

    /// WSP = SP / HTAB (RFC 5234).
    @inline(__always) static func isWSP(_ b: UInt8) -> Bool { b == space || b == tab }
    /// FWS as it appears inside a header value: WSP, CR or LF.
    @inline(__always) static func isFWS(_ b: UInt8) -> Bool { b == space || b == tab || b == cr || b == lf }
    @inline(__always) static func lowercased(_ b: UInt8) -> UInt8 { (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b }
    @inline(__always) static func isAlpha(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A }
    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    /// The bytes as a String, replacing invalid UTF-8 rather than failing.
    static func string<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        String(decoding: bytes, as: UTF8.self)
    }
}
