import DKIMMilterCore
import Foundation
import Testing

@Suite struct JSONLineTests {
    static func parsed(_ line: JSONLine) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(line.text.utf8)) as? [String: Any])
    }

    /// RFC 8259 §7: quote, backslash and every control byte escaped; the rest (UTF-8 too) as is.
    @Test(arguments: [
        "plain", "", "quote \" in the middle", "back\\slash", "line\r\nbreak", "tab\tand\u{1}and\u{7F}",
        "é naïve 日本", "\u{0}", "ends with a newline\n",
    ])
    func everyStringParsesBackToItself(_ value: String) throws {
        var line = JSONLine()
        line.add("v", value)
        line.add("n", 42)
        #expect(try Self.parsed(line)["v"] as? String == value)
        #expect(!line.text.contains("\n") && !line.text.contains("\r"))
    }

    @Test func controlBytesAreWrittenAsUnicodeEscapes() {
        var line = JSONLine()
        line.add("v", "a\u{1}b\u{7F}c\"d")
        #expect(line.text == #"{"v":"a\u0001b\u007fc\"d"}"#)
    }

    @Test func aLineEndsWithOneNewlineAfterTheObject() {
        var line = JSONLine()
        line.add("ok", true)
        #expect(String(decoding: line.line(), as: UTF8.self) == "{\"ok\":true}\n")
    }
}
