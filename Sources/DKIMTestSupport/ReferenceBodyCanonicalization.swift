import DKIM

/// Body canonicalization as RFC 6376 §3.4.3/§3.4.4 describe it, written the slow, obvious
/// way (split into lines, edit each, drop the empty ones at the end), to check the streaming
/// one against.
public enum ReferenceBodyCanonicalization {
    /// RFC 6376 §3.4.3/§3.4.4 written the slow, obvious way.
    public static func canonical(_ input: [UInt8], _ algorithm: Canonicalization) -> [UInt8] {
        var lines: [[UInt8]] = []
        var current: [UInt8] = []
        var i = 0
        while i < input.count {
            if input[i] == 0x0D, i + 1 < input.count, input[i + 1] == 0x0A {
                lines.append(current)
                current = []
                i += 2
            } else {
                current.append(input[i])
                i += 1
            }
        }
        if !current.isEmpty { lines.append(current) }
        if algorithm == .relaxed {
            lines = lines.map { line in
                var out: [UInt8] = []
                var inWSP = false
                for b in line {
                    if b == 0x20 || b == 0x09 {
                        inWSP = true
                    } else {
                        if inWSP { out.append(0x20) }
                        inWSP = false
                        out.append(b)
                    }
                }
                return out  // trailing WSP dropped
            }
        }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        if lines.isEmpty { return algorithm == .simple ? [0x0D, 0x0A] : [] }
        var out: [UInt8] = []
        for l in lines { out += l + [0x0D, 0x0A] }
        return out
    }
}
