import DKIM
import Testing

@Suite("z= copied header fields (RFC 6376 §3.5)")
struct CopiedHeaderFieldTests {
    @Test(arguments: [" plain", " a | b", " x=y; z", "\r\n\tfolded", " Grüße", " tab\there", ""])
    func valuesSurviveTheRoundTrip(_ value: String) throws {
        let copy = CopiedHeaderField(name: "Subject", value: Array(value.utf8))
        let to = CopiedHeaderField(name: "To", value: Array(" b@example.org".utf8))
        let text = CopiedHeaderField.tagValue([copy, to])
        #expect(SignatureTag.copiedHeaders.isWellFormed(text), "\(text)")
        #expect(!text.contains(" ") && text.components(separatedBy: "|").count == 2, "\(text)")
        #expect(CopiedHeaderField.parse(tagValue: text) == [copy, to])
    }

    @Test func theRFCExampleIsRead() throws {
        let copies = try #require(CopiedHeaderField.parse(tagValue:
            "From:foo@eng.example.net|To:joe@example.com|\r\n Subject:demo=20run|"
                + "Date:July=205,=202005=203:44:08=20PM=20-0700"))
        #expect(copies.map(\.name) == ["From", "To", "Subject", "Date"])
        #expect(copies[3].value == Array("July 5, 2005 3:44:08 PM -0700".utf8))
    }

    @Test func aSignatureWithZIsWrittenFoldedAndReadBack() throws {
        let copies = (1...12).map {
            CopiedHeaderField(name: "X-Field-\($0)", value: Array(" value number \($0) | =;".utf8))
        }
        let signature = DKIMSignature(algorithm: .rsaSHA256, domain: "example.com", selector: "s",
                                      signedHeaderNames: ["from"],
                                      bodyHash: [1, 2, 3], signatureData: [4, 5, 6], copiedHeaders: copies)
        let field = signature.headerField()
        let lines = String(decoding: field.bytes, as: UTF8.self).components(separatedBy: "\r\n")
        #expect(lines.allSatisfy { $0.utf8.count <= 78 }, "\(lines)")
        let parsed = try DKIMSignature(parsing: field)
        #expect(parsed.copiedHeaders == copies)
        #expect(parsed == signature)
    }
}
