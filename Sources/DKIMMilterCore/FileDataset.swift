import Dispatch

/// A table file as a dataset: `KEY VALUE…` lines (OpenDKIM's KeyTable and SigningTable syntax),
/// read once. A KeyTable's value `DOMAIN:SELECTOR:KEYFILE` gives those three columns.
public struct FileDataset: Dataset {
    private let rows: [String: [String]]
    public let description: String

    /// - Parameters:
    ///   - keyTable: split values at the first two colons (DOMAIN:SELECTOR:KEYFILE).
    public init(text: String, path: String, keyTable: Bool) {
        var rows: [String: [String]] = [:]
        for entry in TableLines.entries(text) {
            let words = entry.words
            guard words.count >= 2, rows[words[0].lowercased()] == nil else { continue }
            let value = words[1...].joined(separator: " ")
            rows[words[0].lowercased()] = keyTable
                ? value.split(separator: ":", maxSplits: 2).map(String.init) : [value]
        }
        self.rows = rows
        self.description = path
    }

    public func get(_ key: String, deadline: DispatchTime) throws(DatasetError) -> [String]? {
        rows[key.lowercased()]
    }
}
