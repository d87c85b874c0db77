/// Header rewrites that relays commonly make, each undone, to explain a header hash mismatch
/// under simple header canonicalization.
enum HeaderTransforms {
    typealias Rewrite = @Sendable ([UInt8]) -> [UInt8]

    static let all: [(String, Rewrite)] = [
        ("it was re-folded onto several lines", unfold),
        ("spaces were added inside it", collapseWhitespace),
        ("whitespace was added at the end of a line", stripTrailingWhitespace),
        ("the space after the colon was removed", addSpaceAfterColon),
        ("a space was added before the colon", removeSpaceBeforeColon),
        ("the field name's case was changed", conventionalNameCase),
    ]

    static func unfold(_ f: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < f.count {
            if f[i] == 0x0D, i + 1 < f.count, f[i + 1] == 0x0A { i += 2; continue }
            out.append(f[i]); i += 1
        }
        return out
    }

    static func collapseWhitespace(_ f: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for b in f {
            if (b == 0x20 || b == 0x09), let last = out.last, last == 0x20 || last == 0x09 { continue }
            out.append(b)
        }
        return out
    }

    static func stripTrailingWhitespace(_ f: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for b in f {
            if b == 0x0D { while let l = out.last, l == 0x20 || l == 0x09 { out.removeLast() } }
            out.append(b)
        }
        while let l = out.last, l == 0x20 || l == 0x09 { out.removeLast() }
        return out
    }

    static func addSpaceAfterColon(_ f: [UInt8]) -> [UInt8] {
        guard let colon = f.firstIndex(of: 0x3A), colon + 1 < f.count, f[colon + 1] != 0x20 else { return f }
        return Array(f[...colon]) + [0x20] + Array(f[(colon + 1)...])
    }

    static func removeSpaceBeforeColon(_ f: [UInt8]) -> [UInt8] {
        guard let colon = f.firstIndex(of: 0x3A) else { return f }
        var name = Array(f[..<colon])
        while let l = name.last, l == 0x20 || l == 0x09 { name.removeLast() }
        return name + Array(f[colon...])
    }

    /// Subject, Message-ID, MIME-Version… as mail programs write them.
    static func conventionalNameCase(_ f: [UInt8]) -> [UInt8] {
        guard let colon = f.firstIndex(of: 0x3A) else { return f }
        let name = String(decoding: f[..<colon], as: UTF8.self).lowercased()
        let special = ["message-id": "Message-ID", "mime-version": "MIME-Version", "dkim-signature": "DKIM-Signature"]
        let fixed = special[name] ?? name.split(separator: "-", omittingEmptySubsequences: false)
            .map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(separator: "-")
        return Array(fixed.utf8) + Array(f[colon...])
    }
}
