import DKIM
import DKIMDNS
import Testing

/// Reading response messages built byte by byte: compression, CNAME chains and their loops,
/// every record type, and the limits that keep a hostile message from costing more than a pass.
@Suite struct DNSResponseTests {
    /// A response: header (id 0x1234, QR RD RA, `rcode`), the question, then `answers` as given.
    static func message(_ name: String, type: UInt16, rcode: UInt8 = 0, answers: [[UInt8]] = [],
                        flags: UInt8 = 0x81) -> [UInt8] {
        [0x12, 0x34, flags, 0x80 | rcode, 0, 1, UInt8(answers.count >> 8), UInt8(answers.count & 0xFF), 0, 0, 0, 0]
            + wire(name) + [UInt8(type >> 8), UInt8(type & 0xFF), 0, 1] + answers.flatMap { $0 }
    }

    static func wire(_ name: String) -> [UInt8] {
        name.split(separator: ".").flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) } + [0]
    }

    /// A record: owner, type, class IN, TTL, data.
    static func record(_ owner: [UInt8], type: UInt16, ttl: UInt32 = 300, _ data: [UInt8]) -> [UInt8] {
        owner + [UInt8(type >> 8), UInt8(type & 0xFF), 0, 1, UInt8(ttl >> 24), UInt8((ttl >> 16) & 0xFF),
                 UInt8((ttl >> 8) & 0xFF), UInt8(ttl & 0xFF), UInt8(data.count >> 8), UInt8(data.count & 0xFF)] + data
    }

    static let questionName: [UInt8] = [0xC0, 0x0C]  // a pointer to the question's name

    static func question(_ name: String, _ type: DNSRecordType) throws -> DNSResponse.Question {
        DNSResponse.Question(name: try #require(DNSName(name)), type: type.rawValue)
    }

    @Test func readsTheHeaderAndQuestion() throws {
        let m = Self.message("Example.COM", type: 16, rcode: 3, flags: 0x83)
        let (header, question) = try #require(DNSResponse.envelope(in: m))
        #expect(header.id == 0x1234 && header.isResponse && header.isTruncated && header.responseCode == 3)
        #expect(question == (try Self.question("example.com", .txt)))
        #expect(DNSResponse.lookupResult(in: m, for: try Self.question("example.com", .txt)) == .nameNotFound)
    }

    /// RFC 1035 §2.3.3: names compare without regard to ASCII case; other bytes must be equal.
    @Test func namesCompareWithoutRegardToASCIICase() throws {
        #expect(DNSName("Sel._DomainKey.Example.com") == DNSName("sel._domainkey.example.COM."))
        #expect(DNSName("a.example") != DNSName("b.example"))
        #expect(DNSName("ä.example") != DNSName("Ä.example"))
        #expect(Set([DNSName("A.b")!, DNSName("a.B")!]).count == 1)
        #expect(DNSName("") == nil && DNSName("a..b") == nil && DNSName(String(repeating: "x", count: 64)) == nil)
        let long = Array(repeating: String(repeating: "x", count: 63), count: 4).joined(separator: ".")
        #expect(DNSName(long) == nil, "256 bytes in wire form")
        #expect(DNSName(String(long.dropFirst(2))) != nil, "254 bytes in wire form")
    }

    @Test func readsEveryRecordType() throws {
        let mx = Self.record(Self.questionName, type: 15, [0, 10] + Self.wire("mx.example.com"))
        let mxCompressed = Self.record(Self.questionName, type: 15, [0, 20, 3] + Array("mx2".utf8) + [0xC0, 0x0C])
        let m = Self.message("example.com", type: 15, answers: [mx, mxCompressed])
        #expect(DNSResponse.lookupResult(in: m, for: try Self.question("example.com", .mx)) == .answer(DNSAnswer(
            records: [.mx(preference: 10, exchange: "mx.example.com"),
                      .mx(preference: 20, exchange: "mx2.example.com")],
            ttl: 300)))
        let a = Self.message("h.example", type: 1,
                             answers: [Self.record(Self.questionName, type: 1, ttl: 7, [192, 0, 2, 1])])
        #expect(DNSResponse.lookupResult(in: a, for: try Self.question("h.example", .a))
                == .answer(DNSAnswer(records: [.a([192, 0, 2, 1])], ttl: 7)))
        let v6 = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]
        let aaaa = Self.message("h.example", type: 28, answers: [Self.record(Self.questionName, type: 28, v6)])
        #expect(DNSResponse.lookupResult(in: aaaa, for: try Self.question("h.example", .aaaa))
                == .answer(DNSAnswer(records: [.aaaa(v6)], ttl: 300)))
        #expect(DNSRecord.aaaa(v6).description == "2001:db8::1")
        #expect(DNSRecord.a([192, 0, 2, 1]).description == "192.0.2.1")
    }

    /// Records at other names, and of other types, are not part of the answer.
    @Test func takesOnlyTheRecordsOfTheQuestion() throws {
        let other = Self.record(Self.wire("other.example"), type: 16, [2, 104, 105])
        let spare = Self.record(Self.questionName, type: 1, [192, 0, 2, 1])
        let m = Self.message("h.example", type: 16, answers: [other, spare])
        #expect(DNSResponse.lookupResult(in: m, for: try Self.question("h.example", .txt)) == .noData)
    }

    /// RFC 1034 §3.6.2: the chain is followed from the question's name; the TTL is the smallest.
    @Test func followsACNAMEChainInTheAnswer() throws {
        let one = Self.record(Self.questionName, type: 5, ttl: 100, Self.wire("b.example"))
        let two = Self.record(Self.wire("B.EXAMPLE"), type: 5, ttl: 50, Self.wire("c.example"))
        let end = Self.record(Self.wire("c.example"), type: 16, ttl: 200, [3] + Array("key".utf8))
        let m = Self.message("a.example", type: 16, answers: [end, two, one])
        #expect(DNSResponse.lookupResult(in: m, for: try Self.question("a.example", .txt))
                == .answer(DNSAnswer(records: [.txt("key")], ttl: 50, canonicalName: "c.example")))
        let txt = try #require(DNSResponse.answer(in: m))
        #expect(txt.records == ["key"] && txt.ttl == 50)
    }

    @Test func aCNAMELoopIsATemporaryFailureNotAHang() throws {
        let one = Self.record(Self.questionName, type: 5, Self.wire("b.example"))
        let two = Self.record(Self.wire("b.example"), type: 5, Self.wire("a.example"))
        let m = Self.message("a.example", type: 16, answers: [one, two])
        #expect(DNSResponse.lookupResult(in: m, for: try Self.question("a.example", .txt))
                == .temporaryFailure(.cnameLoop))
        var chain: [[UInt8]] = []
        for i in 0...DNSResponse.maximumCNAMEs {
            chain.append(Self.record(Self.wire("n\(i).example"), type: 5, Self.wire("n\(i + 1).example")))
        }
        chain.append(Self.record(Self.wire("n\(DNSResponse.maximumCNAMEs + 1).example"), type: 16, [1, 120]))
        #expect(DNSResponse.lookupResult(in: Self.message("n0.example", type: 16, answers: chain),
                                         for: try Self.question("n0.example", .txt)) == .temporaryFailure(.cnameLoop))
        let short = Array(chain.suffix(DNSResponse.maximumCNAMEs + 1))
        let first = "n\(DNSResponse.maximumCNAMEs + 1 - DNSResponse.maximumCNAMEs).example"
        #expect(DNSResponse.lookupResult(in: Self.message(first, type: 16, answers: short),
                                         for: try Self.question(first, .txt))
                == .answer(DNSAnswer(records: [.txt("x")], ttl: 300, canonicalName: "n17.example")))
    }

    /// RFC 1035 §4.1.4: a pointer must point back; one that points at itself or forward would loop.
    @Test func aCompressionPointerLoopIsRefused() throws {
        var m = Self.message("a.example", type: 16)
        m[12] = 0xC0
        m[13] = 12  // the question's name points at itself
        #expect(DNSResponse.envelope(in: m) == nil)
        let forward = Self.message("a.example", type: 16, answers: [[0xC0, 0x40] + [0, 16, 0, 1, 0, 0, 0, 1, 0, 1, 0]])
        #expect(DNSResponse.lookupResult(in: forward, for: try Self.question("a.example", .txt))
                == .temporaryFailure(.malformed))
    }

    @Test func malformedRecordsMakeAMalformedAnswer() throws {
        let q = try Self.question("h.example", .a)
        let shortA = Self.message("h.example", type: 1, answers: [Self.record(Self.questionName, type: 1, [192, 0, 2])])
        #expect(DNSResponse.lookupResult(in: shortA, for: q) == .temporaryFailure(.malformed))
        let whole = Self.message("h.example", type: 1, answers: [Self.record(Self.questionName, type: 1, [1, 2, 3, 4])])
        let cut = Array(whole.dropLast(2))
        #expect(DNSResponse.lookupResult(in: cut, for: q) == .temporaryFailure(.malformed))
        let txt = Self.message("h.example", type: 16, answers: [Self.record(Self.questionName, type: 16, [5, 65])])
        #expect(DNSResponse.lookupResult(in: txt, for: try Self.question("h.example", .txt))
                == .temporaryFailure(.malformed))
        #expect(DNSResponse.envelope(in: [0x12, 0x34, 0x81]) == nil)
        #expect(DNSResponse.envelope(in: [UInt8](repeating: 0, count: DNSResponse.maximumSize + 1)) == nil)
    }

    /// RFC 2181 §8: a TTL with its top bit set counts as zero; response codes map to failures.
    @Test func oddTTLsAndResponseCodes() throws {
        let q = try Self.question("h.example", .a)
        let m = Self.message("h.example", type: 1, answers: [Self.record(Self.questionName, type: 1, ttl: 0x8000_0001,
                                                                           [192, 0, 2, 1])])
        #expect(DNSResponse.lookupResult(in: m, for: q) == .answer(DNSAnswer(records: [.a([192, 0, 2, 1])], ttl: 0)))
        #expect(DNSResponse.lookupResult(in: Self.message("h.example", type: 1, rcode: 2), for: q)
                == .temporaryFailure(.serverFailure))
        #expect(DNSResponse.lookupResult(in: Self.message("h.example", type: 1, rcode: 5), for: q)
                == .temporaryFailure(.refused))
        #expect(DNSResponse.lookupResult(in: Self.message("h.example", type: 1, rcode: 4), for: q)
                == .temporaryFailure(.responseCode(4)))
    }
}
