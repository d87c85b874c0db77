import DKIM
import DKIMOpenSSL
import DKIMTestSupport
import Foundation
import MilterBench
import Testing

/// `dkim-bench postfix` on a small load: every path through a real throwaway Postfix delivers every
/// message, and the check of each delivered message is not vacuous.
@Suite(.serialized) struct PostfixBenchmarkTests {
    static let keys = Fixtures.corpus + "/keys"
    static let record = (try? BenchKeys.record("sr2048a._domainkey.example.com",
                                               inFile: Fixtures.corpus + "/keys.txt")) ?? ""
    static var records: String { "sr2048a._domainkey.example.com \(record)\n" }

    /// Every path, unix and inet: 12 messages each, all arrive and pass their path's check
    /// (signed and verifying, our results, or unchanged), the milter's CPU is read.
    @Test(arguments: [false, true])
    func everyPathDeliversEveryMessageAsItShould(_ tcp: Bool) throws {
        try Postfix.requireInstalled()
        var bench = PostfixBenchmark(keyFile: Self.keys + "/rsa2048a.pem", selector: "sr2048a", record: Self.record,
                                     dkimMilterPath: Fixtures.productsDirectory + "/dkim-milter", rounds: 1)
        bench.warmUp = 3
        let c = PostfixBenchmark.Case(size: 2048, tcp: tcp, messages: 12, sessions: 2)
        var lines: [String] = []
        let results = try bench.run(c) { lines.append($0) }
        #expect(results.count == PostfixPath.allCases.count)
        for entry in bench.entries {
            let run = try #require(results[entry]?.first, "\(entry.label)")
            #expect(run.delivered == 12 && run.checked == 15, "\(entry.label): \(run.delivered), \(run.checked)")
            #expect(run.problems == 0, "\(entry.label): \(run.firstProblem ?? "")")
            #expect((run.milterCPU != nil) == (entry.path != .none), "\(entry.label)")
            #expect(run.messagesPerSecond > 0)
        }
        let table = PostfixBenchmarkTable.rows(c, results, entries: bench.entries)
        #expect(table.count == PostfixPath.allCases.count)
        #expect(table[0].contains("| no milter |") && table[0].contains("| 1.00 |"), "\(table[0])")
        #expect(table.allSatisfy { $0.contains("| 15/15 |") }, "\(table)")
    }

    /// The check finds what a broken path would deliver: an unsigned message where one was to be
    /// signed, a signature that no longer verifies, missing results, results added to untouched mail.
    @Test func theDeliveryCheckFindsWhatIsWrong() throws {
        let records = Self.records
        let key = try PrivateKey(pemOrSeed: String(contentsOfFile: Self.keys + "/rsa2048a.pem", encoding: .utf8))
        let unsigned = BenchMessages.message(size: 2048)
        let signed = try BenchMessages.signed(unsigned, key: key, domain: "example.com", selector: "sr2048a")
        let signing = try DeliveryCheck(.signed, records: records)
        #expect(signing.problem(signed, originallySigned: false) == nil)
        #expect(signing.problem(unsigned, originallySigned: false) == "0 DKIM-Signature fields")
        var tampered = signed
        tampered[tampered.count - 3] ^= 0x01
        #expect(signing.problem(tampered, originallySigned: false)?.contains("does not verify") == true)
        let results = Array("Authentication-Results: bench.example; dkim=pass header.d=example.com\r\n".utf8)
        let verifying = try DeliveryCheck(.results("dkim=pass"), records: records)
        #expect(verifying.problem(results + signed, originallySigned: true) == nil)
        #expect(verifying.problem(signed, originallySigned: true) != nil)
        let untouched = try DeliveryCheck(.unchanged, records: records)
        #expect(untouched.problem(unsigned, originallySigned: false) == nil)
        #expect(untouched.problem(results + unsigned, originallySigned: false) != nil)
        let floor = try DeliveryCheck(.addedField("X-Floor-Signature"), records: records)
        let floorSigned = Array("X-Floor-Signature: b=AAAA\r\n".utf8) + unsigned
        #expect(floor.problem(floorSigned, originallySigned: false) == nil)
        #expect(floor.problem(unsigned, originallySigned: false)?.contains("0 X-Floor-Signature") == true)
        #expect(floor.problem(signed, originallySigned: false) != nil)
    }
}
