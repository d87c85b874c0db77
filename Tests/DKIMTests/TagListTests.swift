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

/// The documented limits (README, "Limits, faults and what happens then") as figures, not as the
/// code's own constants: changing a constant changes a test. The last value within the limit is
/// accepted, the first beyond it refused, with a reason that names the limit.
@Suite struct LimitTests {
    /// The error `body` throws, or nil.
    func error(_ body: () throws -> Void) -> DKIMError? {
        do { try body() } catch { return error as? DKIMError }
        return nil
    }

    static let required = "v=1; a=rsa-sha256; d=example.com; s=s; h=from; bh=AAAA; b=AAAA"

    @Test func tagListOfOneHundredTagsIsAcceptedAndOfOneHundredAndOneRefused() throws {
        func list(_ n: Int) -> String { (1...n).map { "x\($0)=1" }.joined(separator: "; ") }
        #expect(try TagList(parsing: list(100)).tags.count == 100)
        let refused = error { _ = try TagList(parsing: list(101)) }
        #expect(refused == DKIMError(.signatureSyntax, ""))
        #expect(refused?.reason.contains("more than 100 tags") == true, "\(refused?.reason ?? "")")
    }

    /// The same limit through a signature: 7 required tags and 93 others parse, 94 others do not.
    @Test func signatureOfOneHundredTagsParsesAndOfOneHundredAndOneIsASyntaxError() throws {
        func field(extra: Int) -> HeaderField {
            HeaderField(name: "DKIM-Signature", value: " " + Self.required
                        + (1...extra).map { "; z\($0)=1" }.joined())
        }
        #expect(try DKIMSignature(parsing: field(extra: 93)).domain == "example.com")
        #expect(throws: DKIMError(.signatureSyntax, "")) { try DKIMSignature(parsing: field(extra: 94)) }
    }

    @Test func signatureOverTwoHundredFiftySixFieldsIsAcceptedAndOverTwoHundredFiftySevenRefused() throws {
        func field(_ n: Int) -> HeaderField {
            let h = Array(repeating: "from", count: n).joined(separator: ":")
            return HeaderField(name: "DKIM-Signature",
                               value: " v=1; a=rsa-sha256; d=example.com; s=s; h=\(h); bh=AAAA; b=AAAA")
        }
        #expect(try DKIMSignature(parsing: field(256)).signedHeaderNames.count == 256)
        let refused = error { _ = try DKIMSignature(parsing: field(257)) }
        #expect(refused == DKIMError(.signatureSyntax, ""))
        #expect(refused?.reason.contains("at most 256") == true, "\(refused?.reason ?? "")")
    }

    /// 16 KiB: a valid Ed25519 record padded with an n= note to exactly 16,384 bytes is read; one
    /// byte more is refused before it is parsed.
    @Test func keyRecordOfSixteenKiBIsAcceptedAndOneByteLongerRefused() throws {
        let key = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=; n="
        func record(_ length: Int) -> String { key + String(repeating: "x", count: length - key.utf8.count) }
        #expect(record(16_384).utf8.count == 16_384)
        #expect(try KeyRecord(parsing: record(16_384)).keyType == .ed25519)
        let refused = error { _ = try KeyRecord(parsing: record(16_385)) }
        #expect(refused == DKIMError(.keySyntax, ""))
        #expect(refused?.reason.contains("at most 16384") == true, "\(refused?.reason ?? "")")
    }

    @Test func tooManyHeaderFieldsAreRefused() {
        var parser = MessageParser(maximumHeaderFields: 10)
        let message = Array(String(repeating: "X: y\r\n", count: 20).utf8) + Array("\r\nbody".utf8)
        #expect(throws: DKIMError(.headerTooLarge, "")) { try parser.parse(message) { _ in } }
    }

    /// The verifier's defaults: at most 32 signatures evaluated (dkimkey verify), RSA keys of 1024
    /// to 8192 bits. (What they do is tested in VerificationPolicyTests and MilterSessionTests.)
    @Test func verifierDefaultsAreTheDocumentedFigures() {
        let c = VerifierConfiguration()
        #expect(c.maximumSignatures == 32)
        #expect(c.minimumRSAKeyBits == 1024)
        #expect(c.maximumRSAKeyBits == 8192)
    }
}
