import Testing
@testable import DKIM

@Suite struct TagListTests {
    @Test func parsesTagsWithFoldingWhitespaceAroundNamesAndValues() throws {
        let list = try TagList(parsing: " v = 1 ;\r\n\ta=rsa-sha256;  d=example.com ; ")
        #expect(list["v"] == "1")
        #expect(list["a"] == "rsa-sha256")
        #expect(list["d"] == "example.com")
        #expect(list.tags.count == 3)
    }

    @Test func duplicateTagMakesTheWholeListInvalid() {
        #expect(throws: DKIMError(.duplicateTag, "")) { try TagList(parsing: "v=1; a=x; v=1") }
    }

    @Test func tagNamesAreCaseSensitive() throws {
        let list = try TagList(parsing: "V=1; v=2")
        #expect(list["v"] == "2")
        #expect(list["V"] == "1")
    }

    @Test func trailingSemicolonIsAllowedButEmptyTagInTheMiddleIsNot() throws {
        #expect(try TagList(parsing: "a=1;").tags.count == 1)
        #expect(throws: DKIMError(.signatureSyntax, "")) { try TagList(parsing: "a=1;;b=2") }
    }

    @Test func tagWithoutEqualsIsASyntaxError() {
        #expect(throws: DKIMError(.signatureSyntax, "")) { try TagList(parsing: "a=1; junk") }
    }

    @Test func emptyValueIsKept() throws {
        let list = try TagList(parsing: "p=; k=rsa")
        #expect(list["p"] == "")
    }

    @Test func valueRangesPointAtTheExactBytes() throws {
        let text = Array("x:v=1; b= ab c ; z=b=3D".utf8)
        let list = try TagList(parsing: text, range: 2..<text.count)
        let b = try #require(list.tag("b"))
        #expect(String(decoding: text[b.valueRange], as: UTF8.self) == "ab c")
        #expect(text[b.valueStart - 1] == UInt8(ascii: "="))
        #expect(text[b.specEnd] == UInt8(ascii: ";"))
        // The b= inside z= is a different tag's value.
        #expect(list["z"] == "b=3D")
    }
}

@Suite struct Base64Tests {
    @Test(arguments: [("", ""), ("Zg==", "f"), ("Zm8=", "fo"), ("Zm9v", "foo"), ("Zm9vYg==", "foob")])
    func decodesStandardBase64(_ encoded: String, _ plain: String) {
        #expect(Base64.decode(encoded) == Array(plain.utf8))
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
    }

    @Test func ignoresFoldingWhitespace() {
        #expect(Base64.decode("Zm9v\r\n\tYmFy") == Array("foobar".utf8))
    }

    @Test(arguments: ["Zm9v!", "Zg=x", "Zg===", "Z", "Zm9=v"])
    func rejectsMalformedBase64(_ text: String) {
        #expect(Base64.decode(text) == nil)
    }

    @Test func roundTripsEveryByteValue() {
        let bytes = (0...255).map { UInt8($0) }
        #expect(Base64.decode(Base64.encode(bytes)) == bytes)
    }
}

@Suite struct LimitTests {
    @Test func tagListWithTooManyTagsIsInvalid() {
        let text = (0...TagList.maximumTags).map { "x\($0)=1" }.joined(separator: "; ")
        #expect(throws: DKIMError(.signatureSyntax, "")) { try TagList(parsing: text) }
    }

    @Test func signatureOverTooManyFieldsIsRefused() {
        let h = Array(repeating: "from", count: DKIMSignature.maximumSignedHeaders + 1).joined(separator: ":")
        let field = HeaderField(name: "DKIM-Signature", value: " v=1; a=rsa-sha256; d=example.com; s=s; h=\(h); bh=AAAA; b=AAAA")
        #expect(throws: DKIMError(.signatureSyntax, "")) { try DKIMSignature(parsing: field) }
    }

    @Test func overlongKeyRecordIsRefused() {
        let text = "v=DKIM1; p=" + String(repeating: "A", count: KeyRecord.maximumLength)
        #expect(throws: DKIMError(.keySyntax, "")) { try KeyRecord(parsing: text) }
    }

    @Test func tooManyHeaderFieldsAreRefused() {
        var parser = MessageParser(maximumHeaderFields: 10)
        let message = Array(String(repeating: "X: y\r\n", count: 20).utf8) + Array("\r\nbody".utf8)
        #expect(throws: DKIMError(.headerTooLarge, "")) { try parser.parse(message) { _ in } }
    }
}
