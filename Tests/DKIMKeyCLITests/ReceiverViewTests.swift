import DKIMTestSupport
import Foundation
import Testing

/// `dkimkey verify --explain` on a message saved at the receiving mailbox: the receiver's
/// Authentication-Results (and ARC-Authentication-Results) read, and in words what DMARC saw
/// and why, next to our own verification of the signatures.
@Suite("dkimkey verify --explain: the receiver's view")
struct ReceiverViewTests {
    /// A message signed with the corpus key (d=example.com), with `fields` put on top as a receiver does.
    static func received(from: String = "alice@example.com", fields: [String], dmarc: [String: String] = [:],
                         json: Bool = false, tampered: Bool = false) throws -> ProcessRunner.Result {
        try CLI.withTemporaryDirectory { dir in
            let message = "From: Alice <\(from)>\r\nTo: bob@example.org\r\nSubject: hi\r\n\r\nHello\r\n"
            try CLI.write(message, to: dir + "/m.eml")
            let signed = try CLI.run(["sign", "--key", CLI.corpus("keys/rsa2048a.pem"), "--domain", "example.com",
                                      "--selector", "sr2048a", dir + "/m.eml"])
            try #require(signed.status == 0, "\(signed.summary)")
            let text = tampered ? signed.stdoutText.replacingOccurrences(of: "Hello", with: "Hullo") : signed.stdoutText
            try CLI.write(fields.map { $0 + "\r\n" }.joined() + text, to: dir + "/received.eml")
            var records = String(decoding: try CLI.read(CLI.corpusRecords), as: UTF8.self)
            for (name, record) in dmarc { records += "\n_dmarc.\(name)\t\(record)" }
            try CLI.write(records + "\n", to: dir + "/records.txt")
            return try CLI.run(["verify", "--explain", "--records", dir + "/records.txt", dir + "/received.eml"]
                               + (json ? ["--json"] : []))
        }
    }

    static let relayFail = """
        Authentication-Results: mx.google.com;\r
               dkim=pass header.i=@isp.test header.s=relay header.b=AbCdEf12;\r
               spf=pass (google.com: domain of bounce@isp.test designates 192.0.2.25 as permitted sender) \
        smtp.mailfrom=bounce@isp.test;\r
               dmarc=fail (p=QUARANTINE sp=QUARANTINE dis=QUARANTINE) header.from=home.test
        """

    @Test func aFailedDMARCIsExplainedIdentifierByIdentifier() throws {
        let r = try Self.received(from: "me@home.test", fields: [Self.relayFail],
                                  dmarc: ["home.test": "v=DMARC1; p=quarantine"])
        let out = r.stdoutText
        #expect(out.contains("[1] d=example.com s=sr2048a a=rsa-sha256: pass, not aligned with From"), "\(out)")
        let heading = "receiver's view (Authentication-Results by mx.google.com, the topmost: the last receiver's):"
        #expect(out.contains(heading), "\(out)")
        for line in ["mx.google.com: dmarc=fail (p=QUARANTINE sp=QUARANTINE dis=QUARANTINE) for From domain home.test",
                     "DMARC failed: no identifier was both authenticated and aligned with home.test",
                     "DKIM: pass for d=isp.test s=relay, not aligned: isp.test belongs to another organization than "
                        + "home.test",
                     "SPF: pass for the envelope sender bounce@isp.test, not aligned",
                     "to pass: sign with d=home.test"] {
            #expect(out.contains(line), "missing \(line) in:\n\(out)")
        }
    }

    @Test func aSubdomainPassesThroughTheOrganizationsSignature() throws {
        let field = "Authentication-Results: mx.example.net; dkim=pass header.d=example.com header.s=sr2048a; "
            + "spf=softfail smtp.mailfrom=news.example.com; dmarc=pass header.from=news.example.com"
        let r = try Self.received(from: "news@news.example.com", fields: [field],
                                  dmarc: ["example.com": "v=DMARC1; p=reject"])
        let passed = "DMARC passed because the DKIM signature of d=example.com s=sr2048a passed and is "
            + "aligned with news.example.com (same organizational domain, relaxed)"
        #expect(r.stdoutText.contains(passed), "\(r.stdoutText)")
        let spf = "SPF: softfail for news.example.com: the sending server is not in the SPF record"
        #expect(r.stdoutText.contains(spf), "\(r.stdoutText)")
    }

    @Test func strictAlignmentIsTakenFromTheDomainsRecord() throws {
        let field = "Authentication-Results: mx.example.net; dkim=pass header.d=example.com; dmarc=fail "
            + "header.from=news.example.com"
        let r = try Self.received(from: "n@news.example.com", fields: [field],
                                  dmarc: ["example.com": "v=DMARC1; p=reject; adkim=s"])
        #expect(r.stdoutText.contains("not aligned: the policy asks for strict alignment and example.com is not "
            + "news.example.com"), "\(r.stdoutText)")
    }

    @Test func arcResultsAreReadToo() throws {
        let arc = "ARC-Authentication-Results: i=1; lists.example.org; dkim=pass header.d=example.com; "
            + "dmarc=pass header.from=example.com"
        let gmail = Self.relayFail.replacingOccurrences(of: "home.test", with: "example.com")
        let r = try Self.received(fields: [gmail, arc], dmarc: ["example.com": "v=DMARC1; p=none"])
        let heading = "receiver's view (ARC-Authentication-Results by lists.example.org):"
        #expect(r.stdoutText.contains(heading), "\(r.stdoutText)")
        #expect(r.stdoutText.contains("ARC set i=1 by lists.example.org: dmarc=pass"), "\(r.stdoutText)")
    }

    @Test func withoutAFieldAFailureSaysWhereToFindOne() throws {
        let hint = "no Authentication-Results field: save the message as the receiver shows it"
        let failed = try Self.received(fields: [], tampered: true)
        #expect(failed.status == 1)
        #expect(failed.stdoutText.contains(hint), "\(failed.stdoutText)")
        let passed = try Self.received(fields: [])
        #expect(passed.status == 0 && !passed.stdoutText.contains(hint), "\(passed.stdoutText)")
    }

    @Test func jsonCarriesTheReceiversView() throws {
        let r = try Self.received(from: "me@home.test", fields: [Self.relayFail], json: true)
        let object = try #require(try r.jsonLines().first)
        let receivers = try #require(object["receivers"] as? [[String: Any]])
        #expect(receivers.first?["authserv_id"] as? String == "mx.google.com")
        #expect(receivers.first?["dmarc"] as? String == "fail")
        #expect((receivers.first?["explanation"] as? [String])?.isEmpty == false)
    }

    @Test func whatTheFieldSaysIsEscaped() throws {
        let field = "Authentication-Results: mx.example.net; dkim=pass header.d=\u{1B}[31mred.example; "
            + "dmarc=fail header.from=example.com"
        let r = try Self.received(fields: [field])
        #expect(!r.stdoutText.contains("\u{1B}"), "\(r.stdoutText)")
        #expect(r.stdoutText.contains("\\x1b[31mred.example"), "\(r.stdoutText)")
    }
}
