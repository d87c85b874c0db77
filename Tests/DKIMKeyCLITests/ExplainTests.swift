import DKIM
import DKIMOpenSSL
import DKIMTestSupport
import Foundation
import Testing

/// `dkimkey verify --explain` names the transformation that broke a body hash: each culprit is
/// reproduced on a message signed with a corpus key, then changed the way relays change mail.
@Suite("dkimkey verify --explain on changed bodies")
struct ExplainTests {
    static let tags = "v=1; a=rsa-sha256; d=example.com; s=sr2048a; t=1700000000"

    static func sign(_ message: String, bodyAsStored: Bool = false) throws -> [UInt8] {
        let key = try PrivateKey(pemOrSeed: Fixtures.text("corpus/keys/rsa2048a.pem"))
        return try HostileSigner.sign(Array(message.utf8), tags: tags, key: key, crypto: OpenSSLCryptoProvider(),
                                      bodyAsStored: bodyAsStored)
    }

    static func explain(_ bytes: [UInt8]) throws -> ProcessRunner.Result {
        try CLI.withTemporaryDirectory { dir in
            try CLI.write(bytes, to: dir + "/m.eml")
            return try CLI.run(["verify", "--explain", "--records", CLI.corpusRecords, dir + "/m.eml"])
        }
    }

    static let headers = "From: a@example.com\r\nTo: b@example.org\r\nSubject: s\r\n\r\n"

    /// RFC 6376 §5.3: a file with a CRLF header and an LF body verifies as CRLF; nothing is blamed.
    @Test func aMixedLineEndingFileSignedCorrectlyPassesWithNothingBlamed() throws {
        let signed = try Self.sign(Self.headers + "line one\r\nline two\r\n")
        let mixed = Array(String(decoding: signed, as: UTF8.self).replacingOccurrences(of: "line one\r\nline two\r\n",
                                                                                     with: "line one\nline two\n").utf8)
        let r = try Self.explain(mixed)
        #expect(r.status == 0, "\(r.stdoutText)")
        #expect(!r.stdoutText.contains("the text itself was changed"))
    }

    /// A signer that hashed the stored bare LFs (not converting them) is named as the culprit.
    @Test func aSignatureOverUnconvertedBareLFsNamesTheSigner() throws {
        let signed = try Self.sign(Self.headers + "line one\nline two\n", bodyAsStored: true)
        let r = try Self.explain(signed)
        #expect(r.status == 1)
        #expect(r.stdoutText.contains("likely culprit: the signer hashed the body with its bare LF line endings"),
                "\(r.stdoutText)")
        #expect(!r.stdoutText.contains("the text itself was changed"))
    }

    @Test func anAppendedFooterIsNamedWithTheLengthThatStillPasses() throws {
        let body = "Hello,\r\nthe text.\r\n"
        let signed = try Self.sign(Self.headers + body)
        let r = try Self.explain(signed + Array("-- \r\nSent through the list; unsubscribe at …\r\n".utf8))
        #expect(r.status == 1)
        #expect(r.stdoutText.contains("likely culprit: content appended after signing (a list footer or disclaimer): "
                                      + "the first \(body.utf8.count) bytes of the body pass"), "\(r.stdoutText)")
    }

    @Test func aBodyReEncodedToQuotedPrintableIsNamed() throws {
        let signed = try Self.sign(Self.headers + "Grüße aus Köln\r\n")
        let reencoded = String(decoding: signed, as: UTF8.self)
            .replacingOccurrences(of: "Grüße aus Köln", with: "Gr=C3=BC=C3=9Fe aus K=C3=B6ln")
        let r = try Self.explain(Array(reencoded.utf8))
        #expect(r.stdoutText.contains("likely culprit: the body was re-encoded from 8-bit to quoted-printable"),
                "\(r.stdoutText)")
    }

    @Test func aQuotedPrintableBodyDecodedTo8BitIsNamed() throws {
        let signed = try Self.sign(Self.headers + "Gr=C3=BC=C3=9Fe aus K=C3=B6ln\r\n")
        let decoded = String(decoding: signed, as: UTF8.self).replacingOccurrences(of: "Gr=C3=BC=C3=9Fe aus K=C3=B6ln",
                                                                                   with: "Grüße aus Köln")
        let r = try Self.explain(Array(decoded.utf8))
        #expect(r.stdoutText.contains("likely culprit: 8-bit content was re-encoded"), "\(r.stdoutText)")
    }

    /// When nothing explains it, the sentence lists every transformation that was tried.
    @Test func anUnexplainedChangeListsWhatWasTried() throws {
        let signed = try Self.sign(Self.headers + "pay 100 EUR\r\n")
        let changed = String(decoding: signed, as: UTF8.self).replacingOccurrences(of: "100", with: "900")
        let r = try Self.explain(Array(changed.utf8))
        #expect(r.stdoutText.contains("no common transformation (bare LF line endings, trailing whitespace, "
                                      + "8-bit/quoted-printable re-encoding, quoted-printable encoding of 8-bit text, "
                                      + "an appended footer) explains it: the text itself was changed"),
                "\(r.stdoutText)")
    }
}
