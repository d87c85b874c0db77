/// A domain name as DNS carries it: labels of 1 to 63 bytes, at most 255 bytes in wire form
/// (RFC 1035 §2.3.4, §3.1), compared without regard to ASCII case (RFC 1035 §2.3.3, RFC 4343).
public struct DNSName: Sendable, Hashable, CustomStringConvertible {
    /// The labels as given or received, most specific first; the root name has none.
    public let labels: [[UInt8]]

    /// The longest name in wire form, its final zero byte included (RFC 1035 §2.3.4).
    static let maximumWireLength = 255

    /// A name written with dots between its labels; one final dot is allowed. Nil when a label
    /// is empty or longer than 63 bytes, or the whole is longer than 255 bytes in wire form.
    public init?(_ text: String) {
        var body = Substring(text)
        if body.hasSuffix(".") { body.removeLast() }
        if body.isEmpty {
            guard text == "." else { return nil }
            self.init(checkedLabels: [])
            return
        }
        let labels = body.split(separator: ".", omittingEmptySubsequences: false).map { Array($0.utf8) }
        guard labels.allSatisfy({ (1...63).contains($0.count) }) else { return nil }
        self.init(checkedLabels: labels)
        guard wire.count <= Self.maximumWireLength else { return nil }
    }

    /// Labels already checked (by the message reader).
    init(checkedLabels labels: [[UInt8]]) {
        self.labels = labels
    }

    /// The name in wire form: each label after its length, then a zero byte (RFC 1035 §3.1).
    var wire: [UInt8] {
        var out: [UInt8] = []
        for label in labels {
            out.append(UInt8(label.count))
            out += label
        }
        out.append(0)
        return out
    }

    /// The name in canonical wire form: uncompressed, ASCII letters in lower case (RFC 4034
    /// §6.2), as TSIG's MAC covers the key and algorithm names (RFC 8945 §4.3).
    var canonicalWire: [UInt8] {
        DNSName(checkedLabels: labels.map { $0.map(Self.lower) }).wire
    }

    /// The name without its first label: the name one level up (nil for the root).
    var parent: DNSName? {
        labels.isEmpty ? nil : DNSName(checkedLabels: Array(labels.dropFirst()))
    }

    /// Whether this name is `ancestor` or below it (RFC 2136 §3.4.1.3: a name is in a zone when
    /// the zone's name is a suffix of it, label by label).
    public func isWithin(_ ancestor: DNSName) -> Bool {
        labels.count >= ancestor.labels.count
            && DNSName(checkedLabels: Array(labels.suffix(ancestor.labels.count))) == ancestor
    }

    /// The labels with dots between them (bytes that are not UTF-8 are replaced).
    public var description: String {
        labels.isEmpty ? "." : labels.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ".")
    }

    public static func == (a: DNSName, b: DNSName) -> Bool {
        a.labels.count == b.labels.count && zip(a.labels, b.labels).allSatisfy { x, y in
            x.count == y.count && zip(x, y).allSatisfy { Self.lower($0) == Self.lower($1) }
        }
    }

    public func hash(into hasher: inout Hasher) {
        for label in labels {
            hasher.combine(label.count)
            for byte in label { hasher.combine(Self.lower(byte)) }
        }
    }

    private static func lower(_ byte: UInt8) -> UInt8 {
        (0x41...0x5A).contains(byte) ? byte | 0x20 : byte
    }
}
