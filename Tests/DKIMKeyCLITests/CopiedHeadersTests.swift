import DKIMTestSupport
import Foundation
import Testing

/// `dkimkey sign --copy-headers` writes z= (RFC 6376 §3.5); `verify --explain` then names each
/// signed field a relay changed, removed or added, with the old and the new value.
@Suite("z= copied header fields")
struct CopiedHeadersTests {
    static let message = "From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: Quarterly | report = 3\r\n"
        + "Date: Mon, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n\r\nHello\r\n"

    static func signed(canonicalization: String = "simple/relaxed", copy: Bool = true) throws -> String {
        try CLI.withTemporaryDirectory { dir in
            try CLI.write(message, to: dir + "/m.eml")
            let r = try CLI.run(["sign", "--key", CLI.corpus("keys/rsa2048a.pem"), "--domain", "example.com",
                                 "--selector", "sr2048a", "--canonicalization", canonicalization, "--timestamp",
                                 "1700000000", dir + "/m.eml"] + (copy ? ["--copy-headers"] : []))
            try #require(r.status == 0, "\(r.summary)")
            return r.stdoutText
        }
    }

    static func explain(_ text: String) throws -> ProcessRunner.Result {
        try CLI.withTemporaryDirectory { dir in
            try CLI.write(text, to: dir + "/m.eml")
            return try CLI.run(["verify", "--explain", "--records", CLI.corpusRecords, dir + "/m.eml"])
        }
    }

    @Test func theSignatureCarriesTheSignedFieldsAndStillVerifies() throws {
        let text = try Self.signed()
        let field = try SignedOutput(Array(text.utf8))
        let z = try #require(field.tag("z"), "no z= in \(field.fieldText)")
        let copied = "From:=20Alice=20<alice@example.com>|Subject:=20Quarterly=20=7C=20report=20=3D=203|"
        #expect(z.hasPrefix(copied), "\(z)")
        #expect(try Self.explain(text).status == 0)
        #expect(try Self.signed(copy: false).contains("z=") == false, "z= only when asked")
    }

    @Test func dkimpyVerifiesASignatureWithZ() throws {
        let text = try Self.signed()
        let r = try CLI.withTemporaryDirectory { dir in
            try CLI.write(text, to: dir + "/m.eml")
            let oracle = Fixtures.repositoryRoot + "/Tests/InteropTests/Scripts/dkimpy_oracle.py"
            return try ProcessRunner.run("/usr/bin/python3", [oracle, "verify", "--records", CLI.corpusRecords,
                                                              dir + "/m.eml"])
        }
        #expect(r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == "1 pass", "\(r.summary)")
    }

    @Test func aChangedFieldIsNamedWithItsOldAndNewValue() throws {
        let text = try Self.signed().replacingOccurrences(of: "Subject: Quarterly", with: "Subject: [EXT] Quarterly")
        let r = try Self.explain(text)
        #expect(r.status == 1)
        let heading = "z= (the signed header fields as the signer copied them) shows what a relay changed:"
        #expect(r.stdoutText.contains(heading), "\(r.stdoutText)")
        #expect(r.stdoutText.contains("changed after signing: Subject: was \" Quarterly | report = 3\", now "
            + "\" [EXT] Quarterly | report = 3\""), "\(r.stdoutText)")
        #expect(!r.stdoutText.contains("changed after signing: From"), "\(r.stdoutText)")
    }

    @Test func aReSpacedFieldIsNamedAsHarmlessUnderRelaxed() throws {
        let text = try Self.signed().replacingOccurrences(of: "To: bob@example.org", with: "To:  bob@example.org")
        let r = try Self.explain(text)
        #expect(r.stdoutText.contains("changed after signing: To: was \" bob@example.org\", now \"  bob@example.org\" "
            + "(only spacing, folding or the name's case: relaxed header canonicalization would survive it)"),
                "\(r.stdoutText)")
    }

    @Test func removedAndAddedFieldsAreNamed() throws {
        let text = try Self.signed()
            .replacingOccurrences(of: "Message-ID: <1@example.com>\r\n", with: "")
            .replacingOccurrences(of: "Date: Mon", with: "Cc: eve@example.net\r\nDate: Mon")
        let r = try Self.explain(text)
        #expect(r.stdoutText.contains("removed after signing: Message-ID: was \" <1@example.com>\""), "\(r.stdoutText)")
        #expect(r.stdoutText.contains("added after signing: Cc: \" eve@example.net\""), "\(r.stdoutText)")
    }

    @Test func aFailureZCannotExplainSaysSo() throws {
        // The body is intact and every copied field too: the DKIM-Signature field itself was changed.
        let text = try Self.signed().replacingOccurrences(of: "t=1700000000", with: "t=1700000001")
        let r = try Self.explain(text)
        #expect(r.stdoutText.contains("shows none changed under simple canonicalization"), "\(r.stdoutText)")
    }
}
