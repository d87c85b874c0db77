import Testing
@testable import DKIM

/// Every signature tag's value against its RFC 6376 §3.5 grammar: valid forms, invalid forms,
/// and FWS where the grammar allows it and nowhere else.
@Suite struct SignatureTagSyntaxTests {
    struct Rule: CustomStringConvertible, Sendable {
        var tag: SignatureTag
        var valid: [String]
        var invalid: [String]
        var description: String { "\(tag.rawValue)=" }
    }

    static let rules: [Rule] = [
        Rule(tag: .version, valid: ["1", "2"], invalid: ["one", "1 0", ""]),
        Rule(tag: .algorithm, valid: ["rsa-sha256", "RSA-SHA256", "ed25519-sha256", "x-y2"],
             invalid: ["rsa - sha256", "rsa-", "-sha256", "rsa-sha-256", "rsa_sha256", "rsa-sha256 x", ""]),
        Rule(tag: .canonicalization, valid: ["relaxed", "relaxed/simple", "simple/relaxed", "x-new/relaxed"],
             invalid: ["relaxed / relaxed", "relaxed/", "/relaxed", "relaxed/simple/simple", "re laxed", ""]),
        Rule(tag: .domain, valid: ["example.com", "mail.example.co.uk", "xn--bcher-kva.example", "bücher.example",
                                   "1example.com", "a-b.example.com"],
             invalid: ["legitimate.com(.attacker.com", "example", "-bad.example.com", "bad-.example.com",
                       "exa mple.com", "example..com", ".example.com", "example.com.", "under_score.example",
                       "\"example.com\"", String(repeating: "a", count: 64) + ".example",
                       "example.com\r\n .attacker", ""]),
        Rule(tag: .selector, valid: ["sel", "a.b", "SR1024A", "2026-01", "s202612", "_under", "a_b.c"],
             invalid: ["x()header.d=legit.com", "a\u{1B}[31mRED", "a b", "a..b", "-a", "a.", ""]),
        Rule(tag: .signedHeaders, valid: ["from", "from:to", "from : to\r\n : subject", "from::to", "X-Custom:from"],
             invalid: ["fr om:to", "from:to subject", ""]),
        Rule(tag: .identity, valid: ["@example.com", "user@example.com", "user=40example.com", "jlong@messiah=2Eedu",
                                     "first.last@sub.example.com", "\"a=20b\"@example.com", "u@exa\r\n mple.com"],
             invalid: ["\"John Doe\" <jdoe@example.com>", "user", "user@", "user@@example.com", "a=4@example.com",
                       "a=ZZ@example.com", "user@example", "user@-x.example.com", ""]),
        Rule(tag: .bodyLength, valid: ["0", "123", String(repeating: "9", count: 76)],
             invalid: ["-1", "1 2", "12a", String(repeating: "9", count: 77), ""]),
        Rule(tag: .queryMethods, valid: ["dns/txt", "DNS/TXT", "dns/txt:x-other", "dns/txt : x-other/args"],
             invalid: ["dns / txt", "dns/txt:", "1dns/txt", ""]),
        Rule(tag: .timestamp, valid: ["1700000000", "0", "999999999999"],
             invalid: ["17 00", "1234567890123", "12a", "-5", ""]),
        Rule(tag: .expiration, valid: ["1700000000"], invalid: ["17 00", "1234567890123", ""]),
        Rule(tag: .copiedHeaders, valid: ["From:foo@example.com|To:bar=20baz", "Subject:a=3Bb", "From:a|\r\n To:b"],
             invalid: ["From foo", "From:a|b", "From:a=Zb", "Fr om:a", "From:a|b|c"]),
        Rule(tag: .signature, valid: ["AAAA", "AB CD\r\n EF==", "abc+/w=="], invalid: ["AB$CD", "A=B", "===", ""]),
        Rule(tag: .bodyHash, valid: ["AAAA"], invalid: ["A-B"]),
    ]

    @Test(arguments: rules)
    func validFormsAreWellFormedAndInvalidOnesAreNot(_ rule: Rule) {
        for v in rule.valid { #expect(rule.tag.isWellFormed(v), "\(rule.tag.rawValue)=\(v) should be well-formed") }
        for v in rule.invalid { #expect(!rule.tag.isWellFormed(v), "\(rule.tag.rawValue)=\(v) should be malformed") }
    }

    @Test func everyTagOfTheRFCIsInTheTable() {
        #expect(Set(SignatureTag.allCases.map(\.rawValue)) == ["v", "a", "b", "bh", "c", "d", "h", "i", "l", "q",
                                                               "s", "t", "x", "z"])
    }
}

/// The parser applies the table: a value outside its grammar is a permanent error (RFC 6376 §6.1.1).
@Suite struct SignatureGrammarParsingTests {
    static let base = "v=1; a=rsa-sha256; d=example.com; s=sel; h=from:to; bh=AAAA; b=AAAA"

    func parse(_ text: String) throws(DKIMError) -> DKIMSignature {
        try DKIMSignature(parsing: HeaderField(name: "DKIM-Signature", value: " " + text))
    }

    func error(_ text: String) -> DKIMError? {
        do { _ = try parse(text); return nil } catch { return error }
    }

    /// A domain that an RFC 8601 reader would cut at "(" is refused, not passed on.
    @Test func signingDomainOutsideTheDomainNameGrammarIsAPermanentError() {
        let e = error(Self.base.replacingOccurrences(of: "d=example.com", with: "d=legitimate.com(.attacker.com"))
        #expect(e?.code == .signatureSyntax)
        #expect(e?.reason.contains("d=legitimate.com(.attacker.com is malformed") == true)
        #expect(e?.reason.contains("domain-name") == true)
    }

    @Test func selectorOutsideTheSelectorGrammarIsAPermanentError() {
        let e = error(Self.base.replacingOccurrences(of: "s=sel", with: "s=x()header.d=legit.com"))
        #expect(e?.code == .signatureSyntax)
        #expect(e?.reason.contains("selector") == true)
    }

    /// The reason never carries a raw control byte from the message.
    @Test func reasonsEscapeControlBytes() throws {
        let e = try #require(error(Self.base.replacingOccurrences(of: "s=sel", with: "s=a\u{1B}[31mRED")))
        #expect(!e.reason.utf8.contains(0x1B))
        #expect(e.reason.contains("a\\x1b[31mRED"))
    }

    /// RFC 6376 §3.5: i= is dkim-quoted-printable; it is decoded before the checks.
    @Test(arguments: [("user=40example.com", "user@example.com"),
                      ("jlong@mail=2Eexample.com", "jlong@mail.example.com"),
                      ("@example.com", "@example.com"), ("\"a=3Bb\"@example.com", "\"a;b\"@example.com")])
    func quotedPrintableIdentityIsDecoded(_ written: String, _ decoded: String) throws {
        let s = try parse(Self.base + "; i=" + written)
        #expect(s.identity == decoded)
    }

    @Test func decodedIdentityIsNamedWhenOutsideTheDomain() {
        let e = error(Self.base + "; i=user@other=2Eorg")
        #expect(e?.code == .identityMismatch)
        #expect(e?.reason.contains("i=user@other.org is not in d=example.com") == true)
    }

    @Test func identityThatIsNotAnAddressIsSaidToBeNoIdentity() {
        let e = error(Self.base + "; i=\"John Doe\" <jdoe@example.com>")
        #expect(e?.code == .signatureSyntax)
        #expect(e?.reason.contains("is not an identity") == true)
        #expect(e?.reason.contains("[local-part] \"@\" domain") == true)
    }

    /// RFC 6376 §3.5: x= must be later than t=; otherwise the signature is malformed, not expired.
    @Test func expirationNotLaterThanTimestampHasItsOwnCode() {
        let e = error(Self.base + "; t=100; x=100")
        #expect(e?.code == .expirationNotAfterTimestamp)
        #expect(e?.reason.contains("malformed") == true)
    }

    @Test(arguments: ["t=17 00", "l=1 0", "c=relaxed / relaxed", "a=rsa - sha256", "h=fr om:to", "q=dns / txt"])
    func whitespaceInsideAValueIsRefusedWhereTheGrammarHasNone(_ tag: String) {
        let name = String(tag.prefix { $0 != "=" })
        let text = Self.base.split(separator: ";").map { $0.trimmingPrefix(" ") }
            .filter { !$0.hasPrefix(name + "=") }.joined(separator: "; ") + "; " + tag
        #expect(error(text)?.code == .signatureSyntax, "\(tag)")
    }

    @Test func whitespaceAroundSeparatorsAndInBase64IsAllowed() throws {
        let s = try parse(Self.base.replacingOccurrences(of: "h=from:to", with: "h=from\r\n\t: to")
            .replacingOccurrences(of: "b=AAAA", with: "b=AA\r\n AA") + "; q=dns/txt : x-y")
        #expect(s.signedHeaderNames == ["from", "to"])
    }

    /// g= belonged to RFC 4871 and is not a tag of RFC 6376: it is ignored (§3.2).
    @Test func unknownTagsStayIgnored() {
        #expect(error(Self.base + "; g=*; x-custom=a b c") == nil)
    }
}

/// Every key-record tag's value against its RFC 6376 §3.6.1 grammar.
@Suite struct KeyRecordTagSyntaxTests {
    struct Rule: CustomStringConvertible, Sendable {
        var tag: KeyRecordTag
        var valid: [String]
        var invalid: [String]
        var description: String { "\(tag.rawValue)=" }
    }

    static let rules: [Rule] = [
        Rule(tag: .version, valid: ["DKIM1"], invalid: ["DKIM2", "dkim 1"]),
        Rule(tag: .hashAlgorithms, valid: ["sha256", "sha1:sha256", "sha1 : sha256", "sha256:x-new"],
             invalid: ["sha1:sha 256", "sha-", ":sha256", "sha256:", ""]),
        Rule(tag: .keyType, valid: ["rsa", "ed25519", "x-future"], invalid: ["r sa", "rsa-", "1rsa", ""]),
        Rule(tag: .serviceTypes, valid: ["email", "*", "email:*", "email : x-other"],
             invalid: ["e mail", "**", "email:"]),
        Rule(tag: .flags, valid: ["y", "s", "y:s", "y : s", "x-future"], invalid: ["y s", "y:", "1", ""]),
        Rule(tag: .publicKey, valid: ["", "MIIBCgKCAQEA", "AB CD\r\n EF=="], invalid: ["AB$CD", "A=B"]),
        Rule(tag: .notes, valid: ["anything at all", "a=b", ""], invalid: []),
    ]

    @Test(arguments: rules)
    func validFormsAreWellFormedAndInvalidOnesAreNot(_ rule: Rule) {
        for v in rule.valid { #expect(rule.tag.isWellFormed(v), "\(rule.tag.rawValue)=\(v) should be well-formed") }
        for v in rule.invalid { #expect(!rule.tag.isWellFormed(v), "\(rule.tag.rawValue)=\(v) should be malformed") }
    }

    /// `h=sha1:sha 256` is not a list of key-h-tag-alg: the record is malformed (§3.6.1).
    @Test func hashListWithASpaceInsideAnAlgorithmIsAKeySyntaxError() {
        #expect(throws: DKIMError(.keySyntax, "")) { try KeyRecord(parsing: "v=DKIM1; h=sha1:sha 256; p=AAAA") }
    }

    /// Unknown algorithm names, service types and flags are ignored (§3.6.1), and so is g= (§3.2).
    @Test func unknownListEntriesAndTagsAreIgnored() throws {
        let r = try KeyRecord(parsing: "v=DKIM1; h=sha256 : x-new; s=email:x-other; t=y:x-future; g=*; p=AAAA")
        #expect(r.hashAlgorithms == ["sha256", "x-new"])
        #expect(r.serviceTypes == ["email", "x-other"])
        #expect(r.isTesting)
    }
}

/// The signer writes only what the same table accepts.
@Suite struct SignerGrammarTests {
    struct NoKey: DKIMSigningKey {
        var keyType: KeyRecord.KeyType { .rsa }
        var bitCount: Int { 2048 }
        var publicKeyData: [UInt8] { [] }
        func signature(forDigest digest: [UInt8]) throws(DKIMError) -> [UInt8] { [1] }
    }

    func error(_ configuration: SignerConfiguration) -> DKIMError? {
        do {
            _ = try SigningSession(configuration: configuration, key: NoKey(), crypto: TestCrypto())
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: ["legitimate.com(.attacker.com", "under_score.example", "example"])
    func refusesADomainOutsideTheGrammar(_ domain: String) {
        #expect(error(SignerConfiguration(domain: domain, selector: "s"))?.code == .invalidArgument)
    }

    @Test(arguments: ["x()y", "s.", "a b"])
    func refusesASelectorOutsideTheGrammar(_ selector: String) {
        #expect(error(SignerConfiguration(domain: "example.com", selector: selector))?.code == .invalidArgument)
    }

    @Test(arguments: ["John Doe <j@example.com>", "j@example.org", "nobody"])
    func refusesAnIdentityThatIsNotAnAddressInTheDomain(_ identity: String) {
        #expect(error(SignerConfiguration(domain: "example.com", selector: "s", identity: identity))?.code
                == .invalidArgument)
    }

    /// RFC 6376 §3.5: the identity is written in dkim-quoted-printable and reads back the same.
    @Test func identityIsWrittenQuotedPrintableAndParsesBack() throws {
        let signature = DKIMSignature(algorithm: .rsaSHA256, domain: "example.com", selector: "s",
                                      signedHeaderNames: ["from"], bodyHash: [1, 2, 3], signatureData: [4, 5, 6],
                                      identity: "\"a;b c\"@example.com")
        let field = signature.headerField()
        #expect(String(decoding: field.bytes, as: UTF8.self).contains("i=\"a=3Bb=20c\"@example.com;"))
        #expect(try DKIMSignature(parsing: field).identity == "\"a;b c\"@example.com")
        #expect(error(SignerConfiguration(domain: "example.com", selector: "s",
                                          identity: "\"a;b c\"@example.com")) == nil)
    }
}

/// A crypto provider for tests that never reach a real digest or key.
private struct TestCrypto: DKIMCryptoProvider {
    struct Digest: IncrementalDigest {
        var count = 0
        mutating func update(_ bytes: UnsafeRawBufferPointer) { count += bytes.count }
        mutating func finalize() -> [UInt8] { [UInt8(truncatingIfNeeded: count)] }
    }

    func makeSHA256() -> any IncrementalDigest { Digest() }
    func verifyingKey(type: KeyRecord.KeyType, publicKeyData: [UInt8]) throws(DKIMError) -> any DKIMVerifyingKey {
        throw DKIMError(.keyUnusable, "no keys in this test")
    }
}
