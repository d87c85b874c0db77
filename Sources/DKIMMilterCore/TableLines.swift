import Foundation

/// The entries of an OpenDKIM table or list file: one per line, `#` starts a comment, blank
/// lines skipped; each with its line number for error messages.
enum TableLines {
    struct Entry {
        var number: Int
        var text: String
        /// The entry split at spaces and tabs.
        var words: [String] { text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) }
    }

    static func entries(_ text: String) -> [Entry] {
        var out: [Entry] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = (raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            if !line.isEmpty { out.append(Entry(number: i + 1, text: line)) }
        }
        return out
    }
}
