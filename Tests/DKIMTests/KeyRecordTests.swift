import Testing
@testable import DKIM

@Suite struct KeyRecordTests {
    @Test func parsesAllTags() throws {
        let r = try KeyRecord(parsing: "v=DKIM1; k=ed25519; h=sha256; s=email; t=y:s; n=notes; p=AAEC")
        #expect(r.keyType == .ed25519)
        #expect(r.publicKeyData == [0, 1, 2])
        #expect(r.hashAlgorithms == ["sha256"])
        #expect(r.serviceTypes == ["email"])
        #expect(r.isTesting)
        #expect(r.requiresStrictIdentity)
    }

    @Test func keyTypeDefaultsToRSA() throws {
        #expect(try KeyRecord(parsing: "p=AAEC").keyType == .rsa)
    }

    /// RFC 6376 §3.6.1: an empty p= means the key was revoked.
    @Test func emptyPublicKeyMeansRevoked() throws {
        #expect(try KeyRecord(parsing: "v=DKIM1; p=").isRevoked)
    }

    @Test func unknownTagsAndFlagsAreIgnored() throws {
        let r = try KeyRecord(parsing: "v=DKIM1; g=*; foo=bar; t=q:y; p=AAEC")
        #expect(r.isTesting)
        #expect(!r.requiresStrictIdentity)
    }

    @Test func whitespaceInsideThePublicKeyIsIgnored() throws {
        #expect(try KeyRecord(parsing: "p=AA\r\n EC").publicKeyData == [0, 1, 2])
    }

    @Test(arguments: ["v=DKIM2; p=AAEC", "k=dsa; p=AAEC", "v=DKIM1; k=rsa", "p=AA!C", "v=spf1 -all", "this is not a key"])
    func malformedRecordsAreSyntaxErrors(_ text: String) {
        #expect(throws: DKIMError(.keySyntax, "")) { try KeyRecord(parsing: text) }
    }

    @Test func formatsAndParsesBack() throws {
        let r = KeyRecord(keyType: .rsa, publicKeyData: [UInt8](repeating: 0xAB, count: 294))
        #expect(try KeyRecord(parsing: r.txtValue) == r)
        #expect(r.txtValue.hasPrefix("v=DKIM1; k=rsa; p="))
    }

    @Test func splitsLongRecordsInto255ByteStrings() {
        let r = KeyRecord(keyType: .rsa, publicKeyData: [UInt8](repeating: 1, count: 700))
        let strings = r.txtStrings
        #expect(strings.count == 4)
        #expect(strings.allSatisfy { $0.utf8.count <= 255 })
        #expect(strings.joined() == r.txtValue)
        let line = r.zoneFileLine(selector: "s", domain: "example.com")
        #expect(line.hasPrefix("s._domainkey.example.com.\tIN\tTXT\t( \""))
    }
}

@Suite struct StaticTXTResolverTests {
    @Test func readsTheCorpusRecordsFormat() throws {
        let text = "# comment\na._domainkey.example.com\tv=DKIM1; p=AB\tv=DKIM1; \" \"p=AB\nT._domainkey.Example.com\t!TEMPFAIL\n\n"
        let r = try StaticTXTResolver(parsingRecordsFile: text)
        #expect(r.lookupTXT("A._domainkey.example.com.") == .records(["v=DKIM1; p=AB"]))
        guard case .temporaryFailure = r.lookupTXT("t._domainkey.example.com") else {
            Issue.record("!TEMPFAIL must fail temporarily")
            return
        }
        #expect(r.lookupTXT("missing._domainkey.example.com") == .nameNotFound)
    }

    @Test func readsOpenDKIMTestPublicKeysFormat() throws {
        let r = try StaticTXTResolver(parsingRecordsFile: "sel._domainkey.example.com v=DKIM1; k=rsa; p=AB\n")
        #expect(r.lookupTXT("sel._domainkey.example.com") == .records(["v=DKIM1; k=rsa; p=AB"]))
    }

    @Test func namesTheLineOfAMalformedEntry() {
        #expect(throws: DKIMError(.invalidArgument, "")) { try StaticTXTResolver(parsingRecordsFile: "ok\tp=\nbroken\n") }
    }
}

@Suite struct AlignmentTests {
    let list = PublicSuffixList(parsing: "// comment\ncom\nuk\nco.uk\n*.ck\n!www.ck\n")

    @Test func findsOrganizationalDomains() {
        #expect(list.organizationalDomain(of: "mail.example.com") == "example.com")
        #expect(list.organizationalDomain(of: "a.b.example.co.uk") == "example.co.uk")
        #expect(list.organizationalDomain(of: "x.foo.ck") == "x.foo.ck")
        #expect(list.organizationalDomain(of: "www.ck") == "www.ck")
    }

    /// RFC 7489 §3.1.1: relaxed alignment compares organizational domains.
    @Test func relaxedAlignmentAcceptsSubdomainsButNotLookalikes() {
        #expect(list.isRelaxedAligned("mail.example.com", "example.com"))
        #expect(list.isRelaxedAligned("a.example.com", "b.example.com"))
        #expect(!list.isRelaxedAligned("example.com", "evilexample.com"))
        #expect(!list.isRelaxedAligned("a.co.uk", "b.co.uk"))
    }

    @Test(arguments: [
        ("Alice <alice@Example.COM>", "example.com"), ("bob@example.org", "example.org"),
        ("\"Mallory <m@evil.com>\" <m@good.com>", "good.com"), ("x@example.net (comment@other.org)", "example.net"),
    ])
    func findsTheFromDomain(_ value: String, _ domain: String) {
        #expect(EmailAddress.domain(ofFromValue: value) == domain)
    }

    @Test func refusesFromWithSeveralOrNoAddresses() {
        #expect(EmailAddress.domain(ofFromValue: "a@x.com, b@y.com") == nil)
        #expect(EmailAddress.domain(ofFromValue: "undisclosed") == nil)
    }
}

@Suite struct VerificationResultTests {
    @Test func usesRFC8601Words() {
        let e = DKIMError(.internalError, "x")
        #expect([VerificationResult.pass, .fail(e), .neutral(e), .policy(e), .permError(e), .tempError(e)].map(\.word)
                == ["pass", "fail", "neutral", "policy", "permerror", "temperror"])
    }

    @Test func mapsStopReasonsToResults() {
        #expect(VerificationResult(stoppedBy: DKIMError(.bodyHashMismatch, "")).word == "fail")
        #expect(VerificationResult(stoppedBy: DKIMError(.keyUnavailable, "")).word == "temperror")
        #expect(VerificationResult(stoppedBy: DKIMError(.keyNotFound, "")).word == "permerror")
    }

    @Test func authenticationResultsNameEachSignature() {
        let v = SignatureVerification(index: 1, domain: "example.com", selector: "s", algorithm: "rsa-sha256", result: .pass)
        let value = AuthenticationResults.value(authservID: "mx.example.org", results: [v])
        #expect(value.contains("mx.example.org;"))
        #expect(value.contains("dkim=pass header.d=example.com header.s=s header.a=rsa-sha256"))
        #expect(AuthenticationResults.value(authservID: "mx", results: []).hasSuffix("dkim=none"))
    }
}

@Suite struct IDNATests {
    /// RFC 3492 §7.1 samples and common names.
    @Test(arguments: [("bücher", "bcher-kva"), ("münchen", "mnchen-3ya"), ("例え", "r8jz45g"),
                      ("ليهمابتكلموشعربي؟", "egbpdaj6bu4bxfgehfvwxn")])
    func encodesPunycode(_ label: String, _ expected: String) {
        #expect(IDNA.punycode(label) == expected)
    }

    /// RFC 8616 §3: U-labels in d= and s= are looked up as A-labels.
    @Test func keyQueryNameUsesALabels() throws {
        let s = DKIMSignature(algorithm: .rsaSHA256, domain: "Bücher.example", selector: "sel", signedHeaderNames: ["from"])
        #expect(s.keyQueryName == "sel._domainkey.xn--bcher-kva.example")
        #expect(IDNA.asciiDomain("MAIL.Example.COM") == "mail.example.com")
    }
}
