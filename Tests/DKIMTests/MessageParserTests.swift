import Testing
import DKIMTestSupport
@testable import DKIM

@Suite struct MessageParserTests {
    struct Parsed: Equatable {
        var headers: [[UInt8]] = []
        var body: [UInt8] = []
        var sawEndOfHeaders = false
    }

    func parse(_ message: [UInt8], chunkSize: Int?) throws -> Parsed {
        var parser = MessageParser()
        var parsed = Parsed()
        func handle(_ e: MessageParser.Event) {
            switch e {
            case .header(let f): parsed.headers.append(f.bytes)
            case .endOfHeaders: parsed.sawEndOfHeaders = true
            case .body(let b): parsed.body.append(contentsOf: b)
            }
        }
        for chunk in chunkSize.map({ Chunking.split(message, size: $0) }) ?? [message] {
            try parser.parse(chunk, handle)
        }
        try parser.finish(handle)
        return parsed
    }

    static let message = Array(("From: a@example.com\r\nSubject: one\r\n  two\r\n\tthree\r\nX:\r\n\r\n"
        + "body\r\nline\r\n").utf8)

    @Test func keepsFoldedFieldsByteExact() throws {
        let p = try parse(Self.message, chunkSize: nil)
        #expect(p.headers.map { String(decoding: $0, as: UTF8.self) } ==
                ["From: a@example.com", "Subject: one\r\n  two\r\n\tthree", "X:"])
        #expect(p.body == Array("body\r\nline\r\n".utf8))
    }

    @Test(arguments: Chunking.smallSizes)
    func givesTheSameResultForEveryChunking(_ size: Int) throws {
        #expect(try parse(Self.message, chunkSize: size) == parse(Self.message, chunkSize: nil))
    }

    @Test(arguments: [nil] + Chunking.smallSizes)
    func readsBareLFInputAsCRLF(_ size: Int?) throws {
        let lf = Array("From: a@example.com\nSubject: one\n two\n\nbody\n\nend\n".utf8)
        let p = try parse(lf, chunkSize: size)
        #expect(p.headers.map { String(decoding: $0, as: UTF8.self) }
                == ["From: a@example.com", "Subject: one\r\n two"])
        #expect(p.body == Array("body\r\n\r\nend\r\n".utf8))
    }

    /// The same message with every line ending written as CRLF: what a mixed file must read as.
    static let normalized = Array(
        "DKIM-Signature: v=1;\r\n\tb=x\r\nFrom: a@example.com\r\nSubject: one\r\n two\r\n\r\nbody\r\n\r\nend\r\n".utf8)

    /// RFC 6376 §5.3: each line on its own; a bare LF ends a line as CRLF would, wherever it is.
    @Test(arguments: [
        // CRLF header, LF body.
        "DKIM-Signature: v=1;\r\n\tb=x\r\nFrom: a@example.com\r\nSubject: one\r\n two\r\n\r\nbody\n\nend\n",
        // LF header, CRLF body.
        "DKIM-Signature: v=1;\n\tb=x\nFrom: a@example.com\nSubject: one\n two\n\nbody\r\n\r\nend\r\n",
        // A CRLF signature field prepended to an LF file.
        "DKIM-Signature: v=1;\r\n\tb=x\r\nFrom: a@example.com\nSubject: one\n two\n\nbody\n\nend\n",
        // Mixed line by line, also inside a folded field and around the empty line.
        "DKIM-Signature: v=1;\n\tb=x\r\nFrom: a@example.com\nSubject: one\r\n two\n\r\nbody\n\r\nend\n",
    ])
    func readsMixedLineEndingsLineByLine(_ text: String) throws {
        let expected = try parse(Self.normalized, chunkSize: nil)
        for size in [nil] + Chunking.smallSizes {
            #expect(try parse(Array(text.utf8), chunkSize: size) == expected,
                    "chunk size \(size.map(String.init) ?? "whole")")
        }
    }

    @Test(arguments: [nil] + Chunking.smallSizes)
    func keepsABareCRAsAnOrdinaryByte(_ size: Int?) throws {
        let p = try parse(Array("From: a@example.com\r\nX: a\rb\r\n\r\none\rtwo\r\nthree\r".utf8), chunkSize: size)
        #expect(p.headers.last == Array("X: a\rb".utf8))
        #expect(p.body == Array("one\rtwo\r\nthree\r".utf8))
    }

    @Test(arguments: [nil] + Chunking.smallSizes)
    func readsAnAllCRLFFileByteForByte(_ size: Int?) throws {
        let p = try parse(Self.normalized, chunkSize: size)
        #expect(p.body == Array("body\r\n\r\nend\r\n".utf8))
        #expect(p.headers.map { String(decoding: $0, as: UTF8.self) } ==
                ["DKIM-Signature: v=1;\r\n\tb=x", "From: a@example.com", "Subject: one\r\n two"])
    }

    @Test func detectsLineEndings() {
        #expect(MessageParser.LineEndings.detect(in: Array("a\nb\n".utf8)) == .lf)
        #expect(MessageParser.LineEndings.detect(in: Array("a\r\nb\n".utf8)) == .crlf)
        #expect(MessageParser.LineEndings.detect(in: Array("abc".utf8)) == .crlf)
    }

    @Test func headerSectionWithoutEmptyLineEndsAtEndOfInput() throws {
        let p = try parse(Array("From: a@example.com\r\nSubject: x".utf8), chunkSize: nil)
        #expect(p.headers.count == 2)
        #expect(p.sawEndOfHeaders)
        #expect(p.body.isEmpty)
    }

    @Test func lineWithoutColonIsKeptAsAField() throws {
        let p = try parse(Array("garbage line\r\nFrom: a@b.c\r\n\r\n".utf8), chunkSize: nil)
        #expect(p.headers.count == 2)
        #expect(HeaderField(bytes: p.headers[0]).colonIndex == nil)
    }

    @Test func refusesHeaderSectionsAboveTheLimit() {
        var parser = MessageParser(maximumHeaderBytes: 100)
        let big = Array(("X: " + String(repeating: "a", count: 200) + "\r\n\r\n").utf8)
        #expect(throws: DKIMError(.headerTooLarge, "")) { try parser.parse(big) { _ in } }
    }
}

@Suite struct HeaderFieldTests {
    @Test func nameIgnoresWhitespaceBeforeTheColon() {
        let f = HeaderField(bytes: Array("Subject \t: hi".utf8))
        #expect(f.name == "Subject")
        #expect(f.hasName("subject"))
        #expect(f.unfoldedValue == "hi")
    }

    @Test func unfoldedValueRemovesLineBreaks() {
        let f = HeaderField(bytes: Array("To: a@b.c,\r\n d@e.f".utf8))
        #expect(f.unfoldedValue == "a@b.c, d@e.f")
    }
}

@Suite struct HeaderFieldPickerTests {
    let fields = ["From: 1", "To: 2", "from: 3", "Subject: 4"].map { HeaderField(bytes: Array($0.utf8)) }

    @Test func picksRepeatedNamesBottomUp() {
        var picker = HeaderFieldPicker(fields)
        #expect(picker.pick(["from", "from"]) == [2, 0])
    }

    @Test func absentAndExhaustedNamesContributeNothing() {
        var picker = HeaderFieldPicker(fields)
        #expect(picker.pick(["FROM", "from", "from", "cc", "subject"]) == [2, 0, 3])
    }
}
