import Foundation

/// The key records the benchmarks publish, from a records file of `NAME<TAB>RECORD` lines
/// (Tests/Fixtures/corpus/keys.txt).
public enum BenchKeys {
    /// The record of `name` (e.g. `sr2048a._domainkey.example.com`), or "" when the file has none.
    public static func record(_ name: String, inFile path: String) throws -> String {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
            .first { $0.hasPrefix(name + "\t") }
            .map { String($0.split(separator: "\t")[1]) } ?? ""
    }
}
