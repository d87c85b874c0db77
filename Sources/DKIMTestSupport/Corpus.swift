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
        /// The `l=` value the signature must carry (the canonicalized body length), nil for none.
        public var bodyLength: Int?
        public var bodyHash: String
        public var description: String { name }
    }

    /// A reference verifier of the corpus README (the columns of `signing-oracles.tsv`).
    public enum Oracle: String, Sendable, CaseIterable, CustomStringConvertible {
        case dkimpy, maildkim, opendkim
        public var description: String { rawValue }
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

    /// The rows of `signing.tsv`; a row whose `l` is neither `-` nor a number is left out (and the
    /// count check of CorpusVerificationTests fails).
    public static let signingCases: [SigningCase] = rows("signing.tsv").compactMap { c in
        guard c.count >= 10 else { return nil }
        let length = c[8] == "-" ? nil : Int(c[8])
        guard c[8] == "-" || length != nil else { return nil }
        return SigningCase(name: c[0], message: c[1], key: c[2], algorithm: c[3], domain: c[4], selector: c[5],
                           canonicalization: c[6], headers: c[7].split(separator: ":").map(String.init),
                           bodyLength: length, bodyHash: c[9])
    }

    /// `signing-oracles.tsv`: how each reference verifier judged the generator's own signature of
    /// a signing case (its README: normally `pass`; the exceptions are the oracles' known limits).
    public static let signingOracleVerdicts: [String: [Oracle: String]] = {
        guard rows("signing-oracles.tsv").allSatisfy({ $0.count == 4 }),
              (try? Fixtures.text("corpus/signing-oracles.tsv"))?.hasPrefix("name\tdkimpy\tmaildkim\topendkim\n")
                == true else { return [:] }
        var out: [String: [Oracle: String]] = [:]
        for c in rows("signing-oracles.tsv") { out[c[0]] = [.dkimpy: c[1], .maildkim: c[2], .opendkim: c[3]] }
        return out
    }()

    /// The message files of `expected.tsv`, each once.
    public static var messageFiles: [String] {
        var seen = Set<String>()
        return expectations.map(\.file).filter { seen.insert($0).inserted }
    }
}
