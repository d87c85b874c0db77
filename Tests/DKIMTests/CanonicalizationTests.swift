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

/// The streaming canonicalizer against the line-by-line reference, over bodies made of the
/// bytes it treats specially, in every chunking: covers the eight-bytes-at-a-time path, its
/// handover to the byte-by-byte one, and chunk ends anywhere.
@Suite struct BodyCanonicalizerReferenceTests {
    /// Bodies from a seeded generator, so a failure is reproducible.
    struct Generator {
        var random: SplitMix64
        init(state: UInt64) { random = SplitMix64(state: state) }
        mutating func next() -> UInt64 { random.next() }
        mutating func body(length: Int) -> [UInt8] {
            // Whitespace, line ends, bare CR/LF, a control byte, 8-bit and ordinary bytes.
            let alphabet: [UInt8] = [0x20, 0x20, 0x09, 0x0D, 0x0A, 0x0D, 0x0A, 0x01, 0xE9, 0x21, 0x61, 0x62, 0x7A, 0x7F]
            var runOfText = 0
            return (0..<length).map { _ in
                // Mostly text with the odd special byte, sometimes a burst of specials.
                if runOfText > 0 { runOfText -= 1; return 0x61 + UInt8(next() % 26) }
                let r = next()
                if r % 3 == 0 { runOfText = Int((r >> 8) % 20) }
                return alphabet[Int((r >> 16) % UInt64(alphabet.count))]
            }
        }
    }

    static func canonical(_ body: [UInt8], _ algorithm: Canonicalization, chunkSize: Int) -> [UInt8] {
        var c = BodyCanonicalizer(algorithm)
        var out: [UInt8] = []
        for chunk in Chunking.split(body, size: chunkSize) {
            c.canonicalize(chunk) { out.append(contentsOf: $0) }
        }
        c.finish { out.append(contentsOf: $0) }
        return out
    }

    @Test func randomBodiesMatchTheReferenceInEveryChunking() {
        var g = Generator(state: 6376)
        for round in 0..<400 {
            let body = g.body(length: Int(g.next() % 160))
            for algorithm in Canonicalization.allCases {
                let expected = ReferenceBodyCanonicalization.canonical(body, algorithm)
                for size in Chunking.smallSizes + [8, 9, 15, 16, 17, max(1, body.count)] {
                    let got = Self.canonical(body, algorithm, chunkSize: size)
                    #expect(got == expected, "round \(round) \(algorithm) chunks of \(size): \(body)")
                    if got != expected { return }
                }
            }
        }
    }

    @Test func manyEmptyLinesAreHeldBackAndReleasedWhateverTheChunking() {
        // More held-back empty lines than fit beside a chunk's output, in the middle and at the end.
        for count in [63, 64, 65, 200, 1000] {
            for tail in ["", " \t", "x", "x \r", "\r"] {
                let body = Array(("a b\r\n" + String(repeating: "\r\n", count: count) + " \tc\r\n" + String(repeating: "\r\n", count: count) + tail).utf8)
                for algorithm in Canonicalization.allCases {
                    let expected = ReferenceBodyCanonicalization.canonical(body, algorithm)
                    for size in [1, 2, 3, 7, 64, 1000, body.count] {
                        #expect(Self.canonical(body, algorithm, chunkSize: size) == expected, "\(count) \(tail.debugDescription) \(algorithm) \(size)")
                    }
                }
            }
        }
    }
}
