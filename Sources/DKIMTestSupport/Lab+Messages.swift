import Foundation

/// Messages as tests write and read them: CRLF text, header fields, Authentication-Results ids.
extension Lab {
    /// LF text as CRLF lines, ending with CRLF.
    public static func crlf(_ text: String) -> [UInt8] {
        let t = text.replacingOccurrences(of: "\n", with: "\r\n")
        return Array((t.hasSuffix("\r\n") ? t : t + "\r\n").utf8)
    }

    public static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    public static func replacingFirst(_ old: String, with new: String, in bytes: [UInt8]) throws -> [UInt8] {
        let o = Array(old.utf8)
        let end = bytes.count - o.count
        guard end >= 0, let i = (0...end).first(where: { Array(bytes[$0..<$0 + o.count]) == o }) else {
            throw SMTPClient.Failure("\(old) not in the message")
        }
        return Array(bytes[..<i]) + Array(new.utf8) + Array(bytes[(i + o.count)...])
    }

    /// The header fields of a CRLF message, unfolded (CRLF before white space removed), value trimmed.
    public static func headerFields(_ message: [UInt8]) -> [(name: String, value: String)] {
        let text = Self.text(message)
        let head = text.components(separatedBy: "\r\n\r\n").first ?? ""
        var fields: [(name: String, value: String)] = []
        for line in head.components(separatedBy: "\r\n") {
            if let first = line.first, first == " " || first == "\t", !fields.isEmpty {
                fields[fields.count - 1].value += line
            } else if let colon = line.firstIndex(of: ":") {
                fields.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
            }
        }
        return fields.map { ($0.name, $0.value.trimmingCharacters(in: .whitespaces)) }
    }

    /// The authserv-id of an Authentication-Results value, lowercased.
    public static func authservID(_ value: String) -> String {
        let id = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return (id.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(String.init) ?? "").lowercased()
    }
}
