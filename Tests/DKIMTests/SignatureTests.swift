import Foundation
import Testing
@testable import DKIM

@Suite struct SignatureParsingTests {
    static let base = "v=1; a=rsa-sha256; d=example.com; s=sel; h=from:to; bh=AAAA; b=AAAA"

    func parse(_ text: String) throws(DKIMError) -> DKIMSignature {
        try DKIMSignature(parsing: HeaderField(name: "DKIM-Signature", value: " " + text))
    }

    func code(_ text: String) -> DKIMError.Code? {
        do { _ = try parse(text); return nil } catch { return error.code }
    }

    @Test func parsesAValidSignature() throws {
        let s = try parse(Self.base + "; c=relaxed; i=user@mail.example.com; l=10; t=5; x=10")
        #expect(s.algorithm == .rsaSHA256)
        #expect(s.domain == "example.com")
        #expect(s.canonicalization == CanonicalizationPair(header: .relaxed, body: .simple))
        #expect(s.signedHeaderNames == ["from", "to"])
        #expect(s.identityDomain == "mail.example.com")
        #expect(s.bodyLength == 10)
        #expect(s.keyQueryName == "sel._domainkey.example.com")
    }

    @Test func absentCanonicalizationMeansSimpleSimple() throws {
        #expect(try parse(Self.base).canonicalization == .simpleSimple)
    }

    @Test(arguments: ["v", "a", "b", "bh", "d", "h", "s"])
    func missingRequiredTagIsAPermanentError(_ tag: String) {
        let text = Self.base.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.hasPrefix(tag + "=") }.joined(separator: "; ")
        #expect(code(text) == .missingRequiredTag)
    }

    @Test func unknownVersionIsRefused() {
        #expect(code(Self.base.replacingOccurrences(of: "v=1", with: "v=2")) == .unsupportedVersion)
    }

    /// RFC 8301 §3.1: rsa-sha1 must not be used for verifying.
    @Test func rsaSHA1IsForbidden() {
        let sha1 = Self.base.replacingOccurrences(of: "rsa-sha256", with: "rsa-sha1")
            .replacingOccurrences(of: "bh=AAAA", with: "bh=AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        #expect(code(sha1) == .forbiddenAlgorithm)
    }

    @Test func rsaSHA1WithASHA256SizedBodyHashIsABodyHashMismatch() {
        let text = Self.base.replacingOccurrences(of: "rsa-sha256", with: "rsa-sha1")
            .replacingOccurrences(of: "bh=AAAA", with: "bh=" + Base64.encode([UInt8](repeating: 1, count: 32)))
        #expect(code(text) == .bodyHashMismatch)
    }

    @Test func unknownAlgorithmIsRefused() {
        #expect(code(Self.base.replacingOccurrences(of: "rsa-sha256", with: "rsa-sha512")) == .unsupportedAlgorithm)
    }

    /// RFC 6376 §6.1.1: From must be signed.
    @Test func headerListWithoutFromIsRefused() {
        #expect(code(Self.base.replacingOccurrences(of: "h=from:to", with: "h=to:subject")) == .fromNotSigned)
    }

    /// RFC 6376 §6.1.1: i= must be in d= or a subdomain, at a label boundary.
    @Test func identityOutsideTheSigningDomainIsRefused() {
        #expect(code(Self.base + "; i=@evilexample.com") == .identityMismatch)
        #expect(code(Self.base + "; i=@other.org") == .identityMismatch)
        #expect(code(Self.base + "; i=@sub.example.com") == nil)
    }

    @Test func expirationNotAfterTimestampIsRefused() {
        #expect(code(Self.base + "; t=100; x=100") == .expirationNotAfterTimestamp)
        #expect(code(Self.base + "; t=100; x=99") == .expirationNotAfterTimestamp)
    }

    @Test(arguments: ["t=12a", "l=-1", "x=", "t=1234567890123"])
    func nonNumericTimesAndLengthsAreSyntaxErrors(_ tag: String) {
        #expect(code(Self.base + "; " + tag) == .signatureSyntax)
    }

    @Test func queryMethodMustOfferDNSTXT() {
        #expect(code(Self.base + "; q=ldap/x") == .unsupportedQueryMethod)
        #expect(code(Self.base + "; q=dns/txt") == nil)
    }

    @Test func emptySignatureIsRefused() {
        #expect(code(Self.base.replacingOccurrences(of: "b=AAAA", with: "b=")) == .emptySignature)
    }

    @Test func unknownTagsAreIgnored() {
        #expect(code(Self.base + "; x-custom=1; zz=") == nil)
    }

    @Test func emptyHeaderListEntrySelectsNothing() throws {
        #expect(try parse(Self.base.replacingOccurrences(of: "h=from:to", with: "h=from::to")).signedHeaderNames
                == ["from", "", "to"])
    }
}

@Suite struct SignatureFormattingTests {
    static let signature = DKIMSignature(
        algorithm: .rsaSHA256, domain: "example.com", selector: "selector2026",
        canonicalization: .relaxedRelaxed,
        signedHeaderNames: ["from", "to", "subject", "date", "message-id", "content-type", "mime-version",
                            "from", "to", "subject", "date", "message-id", "content-type", "mime-version", "cc"],
        bodyHash: [UInt8](repeating: 7, count: 32), signatureData: [UInt8](repeating: 9, count: 256),
        timestamp: 1_700_000_000)

    @Test func foldsAt78ColumnsWithSignatureLast() throws {
        let text = String(decoding: Self.signature.headerField().bytes, as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n")
        #expect(lines.count > 3)
        for line in lines { #expect(line.replacingOccurrences(of: "\t", with: "        ").count <= 78, "\(line)") }
        for line in lines.dropFirst() { #expect(line.hasPrefix("\t")) }
        let lastTag = text.components(separatedBy: ";").last!.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(lastTag.hasPrefix("b="))
    }

    @Test func formattedSignatureParsesBackToTheSameValues() throws {
        let parsed = try DKIMSignature(parsing: Self.signature.headerField())
        #expect(parsed == Self.signature)
    }

    @Test func unsignedFormDiffersOnlyAfterTheLastBEquals() throws {
        let full = Self.signature.headerField().bytes
        let empty = Self.signature.headerField(includeSignatureData: false).bytes
        #expect(Array(full.prefix(empty.count)) == empty)
        #expect(String(decoding: empty, as: UTF8.self).hasSuffix("b="))
    }

    /// go-msgauth #77: a `b=` inside another tag's value must not be touched.
    @Test func strippingEmptiesOnlyTheParsedSignatureTag() throws {
        let field = HeaderField(name: "DKIM-Signature", value: " v=1; z=Subject:b=3D; b=abc\r\n def; bh=xyz")
        let tags = try TagList(parsing: field.bytes, range: (field.colonIndex! + 1)..<field.bytes.count)
        let stripped = VerificationSession.strippedSignatureField(field, tags: tags, canonicalization: .simple)
        #expect(String(decoding: stripped, as: UTF8.self) == "DKIM-Signature: v=1; z=Subject:b=3D; b=; bh=xyz")
    }
}

