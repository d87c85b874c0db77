/// The syntax of the names DKIM puts in `d=` and `s=` (RFC 6376 §3.5: domain-name and selector).
enum DomainName {
    /// Letters, digits, hyphens and underscores in dot-separated labels of 1 to 63 bytes,
    /// at most 253 bytes in all; `requireDot` for a domain such as example.com.
    static func isValid(_ name: String, requireDot: Bool = true) -> Bool {
        let bytes = name.utf8
        guard !bytes.isEmpty, bytes.count <= 253 else { return false }
        var labelLength = 0
        var labels = 1
        var previous: UInt8 = 0x2E
        for b in bytes {
            if b == 0x2E {
                // No empty label, and no label ending with a hyphen.
                guard labelLength > 0, previous != 0x2D else { return false }
                labels += 1
                labelLength = 0
            } else {
                let allowed = (b >= 0x30 && b <= 0x39) || ((b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A) || b == 0x5F || b >= 0x80
                    || (b == 0x2D && labelLength > 0)
                guard allowed else { return false }
                labelLength += 1
                guard labelLength <= 63 else { return false }
            }
            previous = b
        }
        return labelLength > 0 && previous != 0x2D && (!requireDot || labels >= 2)
    }
}
