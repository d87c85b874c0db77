/// Writes one JSON object on one line, field by field: an order of magnitude cheaper per message
/// than Foundation's JSONEncoder (20 µs → 2 µs, `dkim-bench outcome`), which matters on the
/// per-message path. Strings are escaped as RFC 8259 §7 requires (quote, backslash, and every
/// control byte as \u00XX), so untrusted text can never end the line or the object.
public struct JSONLine: Sendable {
    private var bytes: [UInt8] = [0x7B]
    private var first = true

    /// - Parameter capacity: the bytes to reserve (about the size of the line, to grow once at most).
    public init(capacity: Int = 64) {
        bytes.reserveCapacity(capacity)
    }

    /// The object, closed.
    public var text: String {
        var out = bytes
        out.append(0x7D)
        return String(decoding: out, as: UTF8.self)
    }

    /// The object closed and ended by a newline, as the bytes of one log line (no copy into a String).
    public consuming func line() -> [UInt8] {
        bytes.append(0x7D)
        bytes.append(0x0A)
        return bytes
    }

    private mutating func key(_ name: String) {
        if !first { bytes.append(0x2C) }
        first = false
        Self.append(string: name, to: &bytes)
        bytes.append(0x3A)
    }

    public mutating func add(_ name: String, _ value: String?) {
        key(name)
        if let value { Self.append(string: value, to: &bytes) } else { bytes.append(contentsOf: "null".utf8) }
    }

    public mutating func add(_ name: String, _ value: Int?) {
        key(name)
        if let value { Self.append(integer: value, to: &bytes) } else { bytes.append(contentsOf: "null".utf8) }
    }

    /// A number with three decimals (milliseconds to the microsecond).
    public mutating func add(_ name: String, milliseconds value: Double) {
        key(name)
        guard value.isFinite, abs(value) < 1e15 else { bytes.append(contentsOf: "null".utf8); return }
        let thousandths = Int((value * 1000).rounded())
        if thousandths < 0 { bytes.append(0x2D) }
        let magnitude = abs(thousandths)
        Self.append(integer: magnitude / 1000, to: &bytes)
        bytes.append(0x2E)
        let fraction = magnitude % 1000
        bytes += [UInt8(0x30 + fraction / 100), UInt8(0x30 + fraction / 10 % 10), UInt8(0x30 + fraction % 10)]
    }

    public mutating func add(_ name: String, _ value: Bool) {
        key(name)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    public mutating func add(_ name: String, strings: [String]) {
        key(name)
        bytes.append(0x5B)
        for (i, s) in strings.enumerated() {
            if i > 0 { bytes.append(0x2C) }
            Self.append(string: s, to: &bytes)
        }
        bytes.append(0x5D)
    }

    public mutating func add(_ name: String, objects: [JSONLine]) {
        key(name)
        bytes.append(0x5B)
        for (i, o) in objects.enumerated() {
            if i > 0 { bytes.append(0x2C) }
            bytes += o.bytes
            bytes.append(0x7D)
        }
        bytes.append(0x5D)
    }

    public mutating func add(_ name: String, object: JSONLine) {
        key(name)
        bytes += object.bytes
        bytes.append(0x7D)
    }

    /// The fields of another object, spliced into this one.
    public mutating func add(fieldsOf other: JSONLine) {
        guard !other.first else { return }
        if !first { bytes.append(0x2C) }
        first = false
        bytes += other.bytes.dropFirst()
    }

    static func append(integer: Int, to out: inout [UInt8]) {
        if integer < 0 { out.append(0x2D) }
        let n = integer.magnitude
        var divisor: UInt = 1
        while divisor <= n / 10 { divisor *= 10 }
        var rest = n
        while divisor > 0 {
            out.append(UInt8(0x30 + rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    static func append(string: String, to out: inout [UInt8]) {
        var string = string
        string.withUTF8 { append(utf8: $0, to: &out) }
    }

    /// Most values need no escape: one scan over the contiguous bytes, then one copy.
    static func append(utf8 value: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        out.append(0x22)
        var clean = 0
        while clean < value.count {
            let b = value[clean]
            if b < 0x20 || b == 0x22 || b == 0x5C || b == 0x7F { break }
            clean += 1
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: value[0..<clean]))
        for b in value[clean...] {
            switch b {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, 0x6E]
            case 0x0D: out += [0x5C, 0x72]
            case 0x09: out += [0x5C, 0x74]
            case ..<0x20, 0x7F: out += [0x5C, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 15)]]
            default: out.append(b)
            }
        }
        out.append(0x22)
    }
}
