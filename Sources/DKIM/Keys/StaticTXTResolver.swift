/// A TXT resolver that answers from a fixed table: for tests, and for `--records FILE`
/// (OpenDKIM's `TestPublicKeys`).
public struct StaticTXTResolver: ImmediateTXTResolver {
    private var table: [String: TXTLookupResult]

    /// Creates a resolver from names (any case, trailing dot optional) to results.
    public init(_ table: [String: TXTLookupResult] = [:]) {
        self.table = [:]
        for (name, result) in table { self.table[Self.normalize(name)] = result }
    }

    /// Parses a records file.
    ///
    /// One record per line, `#` comments and blank lines ignored:
    /// `NAME<TAB>RECORD-TEXT[<TAB>STRINGS]` (the corpus `keys.txt` format) or `NAME RECORD-TEXT`
    /// (OpenDKIM's `TestPublicKeys`). `!TEMPFAIL` as the record makes the lookup fail temporarily;
    /// a name not listed does not exist. Several lines with one name give several records.
    public init(parsingRecordsFile text: String) throws(DKIMError) {
        var table: [String: TXTLookupResult] = [:]
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) || line.hasPrefix("#") { continue }
            let name: Substring
            let record: Substring
            if let tab = line.firstIndex(of: "\t") {
                name = line[..<tab]
                let rest = line[line.index(after: tab)...]
                record = rest.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            } else if let space = line.firstIndex(of: " ") {
                name = line[..<space]
                record = line[line.index(after: space)...].drop(while: { $0 == " " })
            } else {
                throw DKIMError(.invalidArgument, "line \(lineNumber): expected NAME<TAB>RECORD, found \"\(line)\"")
            }
            let key = Self.normalize(String(name))
            if record == "!TEMPFAIL" {
                table[key] = .temporaryFailure(reason: "temporary failure (records file)")
            } else if case .records(let existing)? = table[key] {
                table[key] = .records(existing + [String(record)])
            } else {
                table[key] = .records([String(record)])
            }
        }
        self.table = table
    }

    public func lookupTXT(_ name: String) -> TXTLookupResult {
        table[Self.normalize(name)] ?? .nameNotFound
    }

    public func immediateLookupTXT(_ name: String) -> TXTLookupResult? { lookupTXT(name) }

    private static func normalize(_ name: String) -> String {
        var n = name.lowercased()
        while n.hasSuffix(".") { n.removeLast() }
        return n
    }
}
