import Testing
import DKIMTestSupport
@testable import DKIM

@Suite struct HeaderCanonicalizationTests {
    func relaxed(_ s: String) -> String {
        String(decoding: Canonicalization.relaxed.canonicalizedHeader(HeaderField(bytes: Array(s.utf8))), as: UTF8.self)
    }

    /// RFC 6376 §3.4.5 example.
    @Test func relaxedMatchesTheRFCExample() {
        #expect(relaxed("A: X") == "a:X\r\n")
        #expect(relaxed("B : Y\t\r\n\tZ  ") == "b:Y Z\r\n")
    }

    @Test func relaxedLowercasesNameAndCollapsesWhitespace() {
        #expect(relaxed("SUBJECT:  hello \t  world  ") == "subject:hello world\r\n")
        #expect(relaxed("X-Empty:   ") == "x-empty:\r\n")
    }

    @Test func simpleKeepsTheFieldExactly() {
        let raw = "Subject : Hello\r\n  World "
        let out = Canonicalization.simple.canonicalizedHeader(HeaderField(bytes: Array(raw.utf8)))
        #expect(out == Array((raw + "\r\n").utf8))
    }

    @Test func signatureFieldIsHashedWithoutItsCRLF() {
        let out = Canonicalization.relaxed.canonicalizedHeader(HeaderField(bytes: Array("A: b".utf8)), terminated: false)
        #expect(out == Array("a:b".utf8))
    }

    @Test func canonicalizationPairDefaultsBodyToSimple() {
        #expect(CanonicalizationPair(tagValue: "relaxed") == CanonicalizationPair(header: .relaxed, body: .simple))
        #expect(CanonicalizationPair(tagValue: "simple/relaxed") == CanonicalizationPair(header: .simple, body: .relaxed))
        #expect(CanonicalizationPair(tagValue: "nowsp") == nil)
        #expect(CanonicalizationPair(tagValue: "relaxed/relaxed/x") == nil)
    }
}

@Suite struct BodyCanonicalizerTests {
    static func canonicalize(_ body: String, _ algorithm: Canonicalization, chunkSize: Int? = nil) -> String {
        var c = BodyCanonicalizer(algorithm)
        var out: [UInt8] = []
        let bytes = Array(body.utf8)
        for chunk in chunkSize.map({ Chunking.split(bytes, size: $0) }) ?? [bytes] {
            c.canonicalize(chunk) { out.append(contentsOf: $0) }
        }
        c.finish { out.append(contentsOf: $0) }
        return String(decoding: out, as: UTF8.self)
    }

    /// RFC 6376 §3.4.5 example body.
    static let rfcBody = " C \r\nD \t E\r\n\r\n\r\n"

    @Test func relaxedMatchesTheRFCExample() {
        #expect(Self.canonicalize(Self.rfcBody, .relaxed) == " C\r\nD E\r\n")
    }

    @Test func simpleMatchesTheRFCExample() {
        #expect(Self.canonicalize(Self.rfcBody, .simple) == " C \r\nD \t E\r\n")
    }

    @Test func emptyBodyIsCRLFForSimpleAndEmptyForRelaxed() {
        #expect(Self.canonicalize("", .simple) == "\r\n")
        #expect(Self.canonicalize("", .relaxed) == "")
        #expect(Self.canonicalize("\r\n\r\n", .simple) == "\r\n")
        #expect(Self.canonicalize("\r\n \r\n", .relaxed) == "")
    }

    @Test func missingFinalCRLFIsAdded() {
        #expect(Self.canonicalize("abc", .simple) == "abc\r\n")
        #expect(Self.canonicalize("abc  ", .relaxed) == "abc\r\n")
    }

    @Test func innerEmptyLinesAreKept() {
        #expect(Self.canonicalize("a\r\n\r\nb\r\n\r\n", .simple) == "a\r\n\r\nb\r\n")
        #expect(Self.canonicalize("a\r\n \r\nb\r\n", .relaxed) == "a\r\n\r\nb\r\n")
    }

    @Test func bareCRIsContent() {
        #expect(Self.canonicalize("a\rb\r\n", .simple) == "a\rb\r\n")
        #expect(Self.canonicalize("a \r", .relaxed) == "a \r\r\n")
    }

    static let streamingCases = [
        rfcBody, "", "\r\n", "a", "a\r", "a\r\r\n", " \t \r\n\t\r\n x  y \t\r\n\r\n", "line\r\n\r\n\r\nmore\r\n \r\n",
        "8-bit \u{e9}\u{e8}\r\n", "trailing   ",
    ]

    @Test(arguments: streamingCases)
    func givesTheSameOutputForEveryChunking(_ body: String) {
        for algorithm in Canonicalization.allCases {
            let whole = Self.canonicalize(body, algorithm)
            for size in Chunking.smallSizes {
                #expect(Self.canonicalize(body, algorithm, chunkSize: size) == whole, "\(algorithm) size \(size)")
            }
        }
    }
}
