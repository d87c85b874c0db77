/// The shared conformance corpus (`Tests/Fixtures/corpus`, format in its README).
public enum Corpus {
    /// One row of `expected.tsv`.
    public struct Expectation: Sendable, CustomStringConvertible {
        public var file: String
        public var index: Int
        public var domain: String
        public var selector: String
        public var result: String
        public var alsoOK: [String]
        public var category: String
        public var reason: String
        public var description: String { "\(file)#\(index)" }
    }

    /// One row of `signing.tsv`.
    public struct SigningCase: Sendable, CustomStringConvertible {
        public var name: String
        public var message: String
        public var key: String
        public var algorithm: String
        public var domain: String
        public var selector: String
        public var canonicalization: String
        public var headers: [String]
        public var bodyLength: Bool
        public var bodyHash: String
        public var description: String { name }
    }

    static func rows(_ file: String) -> [[String]] {
        guard let text = try? Fixtures.text("corpus/" + file) else { return [] }
        return text.split(separator: "\n").dropFirst().filter { !$0.hasPrefix("#") }.map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
    }

    public static let expectations: [Expectation] = rows("expected.tsv").compactMap { c in
        guard c.count >= 9, let index = Int(c[1]) else { return nil }
        return Expectation(file: c[0], index: index, domain: c[2], selector: c[3], result: c[4],
                           alsoOK: c[5] == "-" ? [] : c[5].split(separator: ",").map(String.init),
                           category: c[6], reason: c[8])
    }

    public static let signingCases: [SigningCase] = rows("signing.tsv").compactMap { c in
        guard c.count >= 10 else { return nil }
        return SigningCase(name: c[0], message: c[1], key: c[2], algorithm: c[3], domain: c[4], selector: c[5],
                           canonicalization: c[6], headers: c[7].split(separator: ":").map(String.init),
                           bodyLength: c[8] != "-", bodyHash: c[9])
    }

    /// The message files of `expected.tsv`, each once.
    public static var messageFiles: [String] {
        var seen = Set<String>()
        return expectations.map(\.file).filter { seen.insert($0).inserted }
    }
}
