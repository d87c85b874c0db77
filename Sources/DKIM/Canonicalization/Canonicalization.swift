/// The two canonicalization algorithms of RFC 6376 §3.4.
public enum Canonicalization: String, Sendable, CaseIterable, Hashable {
    case simple
    case relaxed
}

/// The `c=` pair: header algorithm / body algorithm.
public struct CanonicalizationPair: Sendable, Hashable, CustomStringConvertible {
    public var header: Canonicalization
    public var body: Canonicalization

    public init(header: Canonicalization, body: Canonicalization) {
        self.header = header
        self.body = body
    }

    /// Parses a `c=` value. RFC 6376 §3.5: the default is simple/simple; a single
    /// algorithm name applies to the header and the body is simple.
    public init?(tagValue: String) {
        let parts = tagValue.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2,
              let h = Canonicalization(rawValue: String(parts[0])) else { return nil }
        var b = Canonicalization.simple
        if parts.count == 2 {
            guard let body = Canonicalization(rawValue: String(parts[1])) else { return nil }
            b = body
        }
        self.init(header: h, body: b)
    }

    public var description: String { "\(header.rawValue)/\(body.rawValue)" }

    public static let simpleSimple = CanonicalizationPair(header: .simple, body: .simple)
    public static let relaxedRelaxed = CanonicalizationPair(header: .relaxed, body: .relaxed)
}
