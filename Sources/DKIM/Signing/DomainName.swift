/// The syntax of the names DKIM puts in `d=` and `s=` (RFC 6376 §3.5: domain-name and selector).
enum DomainName {
    /// Letters, digits, hyphens and underscores in dot-separated labels of 1 to 63 bytes,
    /// at most 253 bytes in all; `requireDot` for a domain such as example.com.
    static func isValid(_ name: String, requireDot: Bool = true) -> Bool {
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        guard !name.isEmpty, name.utf8.count <= 253, !requireDot || labels.count >= 2 else { return false }
        return labels.allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.utf8.allSatisfy { b in
                    (b >= 0x30 && b <= 0x39) || ((b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A) || b == 0x2D || b == 0x5F || b >= 0x80
                }
        }
    }
}
