/// An RFC 6376 §3.2 tag list (`tag=value; tag=value`), with the byte range of every value kept.
///
/// The ranges let a verifier empty exactly the `b=` value it parsed, even when another
/// tag (a `z=` copy, say) contains the text `b=` (go-msgauth #77).
public struct TagList: Sendable {
    /// One `name=value` pair.
    public struct Tag: Sendable, Equatable {
        /// The tag name; tag names are case-sensitive (RFC 6376 §3.2).
        public let name: String
        /// The value with its inner folding whitespace kept, outer whitespace removed.
        public let value: String
        /// The range of the value bytes in the parsed buffer (outer whitespace excluded).
        public let valueRange: Range<Int>
        /// The index just after the `=` sign in the parsed buffer.
        public let valueStart: Int
        /// The end of the tag-spec: the index of the `;` after it, or the end of the list.
        public let specEnd: Int
    }

    /// The tags in the order written.
    public let tags: [Tag]

    /// More tags than this make the list invalid: no DKIM tag list needs them, and each costs work.
    public static let maximumTags = 100

    /// Parses a tag list.
    ///
    /// RFC 6376 §3.2: a tag name occurring more than once makes the whole list invalid;
    /// a trailing `;` is allowed; unknown tags are kept (callers ignore them).
    /// - Parameters:
    ///   - bytes: the buffer holding the list.
    ///   - range: where in `bytes` the list is; the ranges of the tags refer to `bytes`.
    public init(parsing bytes: [UInt8], range: Range<Int>? = nil) throws(DKIMError) {
        let range = range ?? bytes.indices
        var tags: [Tag] = []
        var segmentStart = range.lowerBound
        var index = range.lowerBound
        while segmentStart <= range.upperBound {
            index = segmentStart
            while index < range.upperBound, bytes[index] != ASCII.semicolon { index += 1 }
            let segment = segmentStart..<index
            let isLast = index >= range.upperBound
            if let tag = try Self.parseSpec(bytes, segment, isLast: isLast) {
                // At most 100 tags, usually about ten: a scan is cheaper than hashing every name.
                guard !tags.contains(where: { $0.name == tag.name }) else {
                    throw DKIMError(.duplicateTag, "the tag \(tag.name)= appears more than once (RFC 6376 §3.2)")
                }
                tags.append(tag)
                guard tags.count <= Self.maximumTags else {
                    throw DKIMError(.signatureSyntax, "the tag list has more than \(Self.maximumTags) tags")
                }
            }
            segmentStart = index + 1
        }
        self.tags = tags
    }

    /// Parses a tag list written as text.
    public init(parsing text: String) throws(DKIMError) {
        try self.init(parsing: Array(text.utf8))
    }

    /// A best-effort reading of a list that may not parse, for reporting only: `name=value`
    /// segments, the first of each name winning, malformed segments skipped.
    public static func lenientValues(_ bytes: [UInt8], range: Range<Int>) -> [String: String] {
        var values: [String: String] = [:]
        for segment in bytes[range].split(separator: ASCII.semicolon) {
            guard let eq = segment.firstIndex(of: ASCII.equals) else { continue }
            let name = ASCII.string(segment[segment.startIndex..<eq].filter { !ASCII.isFWS($0) })
            let value = ASCII.string(segment[(eq + 1)...].filter { !ASCII.isFWS($0) })
            if values[name] == nil { values[name] = value }
        }
        return values
    }

    /// The value of a tag, or nil when it is absent.
    public subscript(name: String) -> String? {
        tags.first { $0.name == name }?.value
    }

    /// The tag with that name, or nil.
    public func tag(_ name: String) -> Tag? { tags.first { $0.name == name } }

    private static func parseSpec(_ b: [UInt8], _ segment: Range<Int>, isLast: Bool) throws(DKIMError) -> Tag? {
        var lo = segment.lowerBound
        var hi = segment.upperBound
        while lo < hi, ASCII.isFWS(b[lo]) { lo += 1 }
        while hi > lo, ASCII.isFWS(b[hi - 1]) { hi -= 1 }
        if lo == hi {
            // Only the final, empty segment after a trailing ";" may be empty.
            if isLast { return nil }
            throw DKIMError(.signatureSyntax, "empty tag between two semicolons")
        }
        guard let eq = b[lo..<hi].firstIndex(of: ASCII.equals) else {
            throw DKIMError(.signatureSyntax, "\"\(ASCII.string(b[lo..<hi]))\" is not of the form tag=value")
        }
        var nameEnd = eq
        while nameEnd > lo, ASCII.isFWS(b[nameEnd - 1]) { nameEnd -= 1 }
        let nameBytes = b[lo..<nameEnd]
        // RFC 6376 §3.2 writes tag-name = ALPHA *ALNUMPUNC; like the deployed verifiers, other
        // printable names (x-custom) are accepted as unknown tags and ignored. Whitespace inside is not.
        guard !nameBytes.isEmpty, nameBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw DKIMError(.signatureSyntax, "\"\(ASCII.string(nameBytes))\" is not a valid tag name")
        }
        var vlo = eq + 1
        while vlo < hi, ASCII.isFWS(b[vlo]) { vlo += 1 }
        return Tag(name: ASCII.string(nameBytes), value: ASCII.string(b[vlo..<hi]),
                   valueRange: vlo..<hi, valueStart: eq + 1, specEnd: segment.upperBound)
    }
}

extension String {
    /// The value with all folding whitespace removed (for base64 and `h=` lists).
    var removingFWS: String {
        if !utf8.contains(where: ASCII.isFWS) { return self }
        return String(decoding: utf8.filter { !ASCII.isFWS($0) }, as: UTF8.self)
    }
}
