import DKIM
import DKIMOpenSSL
import DKIMTestSupport
import Foundation
import Testing
@testable import DKIMMilter
@testable import DKIMMilterCore

/// What we write into Authentication-Results must be impossible to forge: each test reproduces
/// an attack from the security review (issue 18) and reads our field with Python's RFC 8601
/// parser (python3-authres), as a DMARC evaluator downstream would.
@Suite struct AuthenticationResultsSecurityTests {
    typealias F = MilterFixtures
    static let parser = Fixtures.repositoryRoot + "/Tests/DKIMMilterTests/Scripts/authres_parse.py"
    static let record = "v=DKIM1; k=rsa; p="
        + Base64.encode(try! F.key("rsa2048a.pem", selector: "x").key.publicKeyData)
    static let unsigned = Array("From: a@legit.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nbody\r\n".utf8)

    struct Parsed: Decodable {
        struct Result: Decodable {
            var method: String
            var result: String
            var properties: [[String]]
        }
        var authserv_id: String?
        var results: [Result]?
        var error: String?
    }

    /// What authres reads in each field value.
    static func authres(_ values: [String]) throws -> [Parsed] {
        let input = try JSONEncoder().encode(values)
        let r = try ProcessRunner.run("/usr/bin/python3", [parser], input: Array(input), timeout: 60)
        #expect(r.status == 0, "authres_parse.py: \(r.stderr)")
        return try JSONDecoder().decode([Parsed].self, from: Data(r.stdout))
    }

    /// Signs with the given tags, publishes the key at `keyName`, runs the message through the
    /// milter from an outside client, and returns the outcome and our Authentication-Results.
    func verifyThroughTheMilter(tags: String, keyName: String) throws -> (MessageOutcome, String) {
        let key = try F.key("rsa2048a.pem", selector: "x").key
        let signed = try HostileSigner.sign(Self.unsigned, tags: tags, key: key, crypto: OpenSSLCryptoProvider())
        let resolver = StaticTXTResolver([keyName.lowercased(): .records([Self.record])])
        let session = MilterSession(policy: try F.policy(resolver: resolver))
        let (actions, _) = F.run(session, signed, client: ("mx.other.net", "198.51.100.1"))
        var ar: String?
        for m in actions.modifications { if case .insert(_, "Authentication-Results", let v) = m { ar = v } }
        return (try #require(session.lastOutcome), try #require(ar))
    }

    /// The control case: the same signature made honestly by attacker.example passes, and authres
    /// reads exactly one header.d, attacker.example.
    @Test func anHonestSignatureOfAnotherDomainPassesForThatDomainOnly() throws {
        let (outcome, ar) = try verifyThroughTheMilter(tags: "v=1; a=rsa-sha256; d=attacker.example; s=sel",
                                                       keyName: "sel._domainkey.attacker.example")
        #expect(outcome.verifications.map(\.result) == [.pass])
        let parsed = try #require(try Self.authres([ar]).first?.results?.first)
        #expect(parsed.result == "pass")
        #expect(parsed.properties.filter { $0[1] == "d" }.map { $0[2] } == ["attacker.example"])
    }

    /// s=x()header.d=legit.com, key published under the attacker's domain: once a pass that
    /// authres read as a second header.d=legit.com. Now a permerror, and no legit.com anywhere.
    @Test func aSelectorCannotInjectASecondHeaderD() throws {
        let (outcome, ar) = try verifyThroughTheMilter(
            tags: "v=1; a=rsa-sha256; d=attacker.example; s=x()header.d=legit.com",
            keyName: "x()header.d=legit.com._domainkey.attacker.example")
        #expect(outcome.verifications.map(\.result.word) == ["permerror"])
        let parsed = try #require(try Self.authres([ar]).first?.results?.first)
        #expect(parsed.result == "permerror")
        #expect(!parsed.properties.contains { $0[2].contains("legit.com") }, "\(parsed.properties)")
        #expect(!parsed.properties.contains { $0[1] == "s" })
    }

    /// d=legitimate.com(.attacker.com: a reader that takes "(" as a comment once saw a pass for
    /// legitimate.com. Now a permerror without any header.d.
    @Test func aDomainWithAParenthesisIsAPermanentErrorWithoutHeaderD() throws {
        let (outcome, ar) = try verifyThroughTheMilter(tags: "v=1; a=rsa-sha256; d=legitimate.com(.attacker.com; s=sel",
                                                       keyName: "sel._domainkey.legitimate.com(.attacker.com")
        #expect(outcome.verifications.map(\.result.word) == ["permerror"])
        #expect(!ar.contains("header.d="))
        let parsed = try #require(try Self.authres([ar]).first?.results?.first)
        #expect(!parsed.properties.contains { $0[2].contains("legitimate.com") }, "\(parsed.properties)")
    }

    /// An ESC in s= reaches neither our header nor our log line.
    @Test func controlBytesInASelectorReachNeitherTheHeaderNorTheLog() throws {
        let (outcome, ar) = try verifyThroughTheMilter(tags: "v=1; a=rsa-sha256; d=attacker.example; s=a\u{1B}[31mRED",
                                                       keyName: "a\u{1B}[31mRED._domainkey.attacker.example")
        #expect(!ar.utf8.contains(0x1B))
        #expect(!outcome.logLine.utf8.contains(0x1B))
        #expect(outcome.logLine.contains("a\\x1b[31mRED"))
    }

    /// A folded c= with "pass" text in it once made a second physical log line (a journal
    /// record of its own) reading like a pass for another domain.
    @Test func aFoldedTagValueCannotStartALogLineOfItsOwn() throws {
        let (outcome, ar) = try verifyThroughTheMilter(
            tags: "v=1; a=rsa-sha256; d=attacker.example; s=sel; x-c=1; q=dns/txt; l=\r\n QUEUE: d=legit.com pass",
            keyName: "sel._domainkey.attacker.example")
        #expect(outcome.verifications.map(\.result.word) == ["permerror"])
        #expect(!outcome.logLine.utf8.contains(0x0A) && !outcome.logLine.utf8.contains(0x0D), "\(outcome.logLine)")
        #expect(ar.split(separator: "\n").allSatisfy {
            $0.first == " " || $0.first == "\t" || $0 == ar.split(separator: "\n")[0]
        })
    }

    /// Hostile values in every property, written by us, parsed by authres: each value is one
    /// RFC 8601 value (a token or a quoted-string) and reads back as written.
    @Test func everyPropertyValueIsATokenOrAQuotedString() throws {
        var signature = DKIMSignature(algorithm: .rsaSHA256, domain: "example.com", selector: "sel",
                                      signedHeaderNames: ["from"], signatureData: Array("a/b=c\"d\\e;f g".utf8))
        signature.identity = "\"odd;local part\"@example.com"
        var v = SignatureVerification(index: 1, signature: signature, domain: "example.com", selector: "sel",
                                      algorithm: "rsa-sha256", result: .fail(DKIMError(.signatureMismatch,
                                      "a reason (with parentheses) \\ and a\r\n line break")))
        v.keyRecord = nil
        let value = AuthenticationResults.value(authservID: "mx.example.org", results: [v])
        let parsed = try #require(try Self.authres([value.replacingOccurrences(of: "\r\n", with: "\n")]).first)
        #expect(parsed.error == nil, "\(value)")
        let props = try #require(parsed.results?.first?.properties)
        #expect(props.first { $0[1] == "i" }?[2] == "\"odd;local part\"@example.com", "\(props)")
        #expect(props.first { $0[1] == "b" }?[2] == String(Base64.encode(signature.signatureData).prefix(8)))
        #expect(props.first { $0[1] == "d" }?[2] == "example.com")
    }
}

/// RFC 8601 §5: every Authentication-Results claiming our authserv-id is removed, however it is
/// folded, quoted or commented, on every path.
@Suite struct ForgedResultsRemovalTests {
    typealias F = MilterFixtures

    /// Forms an RFC 8601 reader takes as the authserv-id mx.example.org (the value after the colon).
    static let forgedForms = [
        " mx.example.org; dkim=pass header.d=legit.com",
        "\n mx.example.org; dkim=pass header.d=legit.com",
        " mx.example.org\n ; dkim=pass header.d=legit.com",
        " mx.example.org\n\t1; dkim=pass header.d=legit.com",
        " \"mx.example.org\"; dkim=pass header.d=legit.com",
        " (\\() mx.example.org; dkim=pass header.d=legit.com",
        " (a (nested) comment)\n MX.Example.ORG; dkim=pass",
        " mx.example.org;dkim=pass",
        "\tmx.example.org 1;\n dkim=pass",
    ]
    /// Forms that are someone else's id.
    static let othersForms = [" mx.example.org.evil.net; dkim=pass", " other.example; (mx.example.org) dkim=pass",
                              " \"mx.example.org x\"; dkim=pass"]

    @Test(arguments: forgedForms)
    func readsOurIdInEveryFoldingQuotingAndCommentForm(_ value: String) {
        #expect(AuthservID.of(value: Array(value.replacingOccurrences(of: "\n", with: "\r\n").utf8))
                == "mx.example.org")
    }

    @Test(arguments: othersForms)
    func leavesOtherIdsAlone(_ value: String) {
        #expect(AuthservID.of(value: Array(value.utf8)) != "mx.example.org")
    }

    /// Our reading agrees with Python's RFC 8601 parser wherever that parser reads the form
    /// (it does not read the quoted-string form, which RFC 8601 allows).
    @Test func ourReadingAgreesWithAnRFC8601Parser() throws {
        let parsed = try AuthenticationResultsSecurityTests.authres(Self.forgedForms + Self.othersForms)
        for (form, p) in zip(Self.forgedForms + Self.othersForms, parsed) {
            guard let id = p.authserv_id else { continue }
            #expect(AuthservID.of(value: Array(form.replacingOccurrences(of: "\n", with: "\r\n").utf8))
                        == id.lowercased(),
                    "\(form)")
        }
        #expect(parsed.filter { $0.authserv_id != nil }.count >= Self.forgedForms.count)
    }

    func message(_ forged: [String], fillers: Int = 0) -> [UInt8] {
        var text = "From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: hi\r\n"
        text += String(repeating: "X-Filler: f\r\n", count: fillers)
        for f in forged { text += "Authentication-Results:" + f.replacingOccurrences(of: "\n", with: "\r\n") + "\r\n" }
        return Array((text + "\r\nbody\r\n").utf8)
    }

    func deletions(_ actions: EndOfMessageActions) -> [Int] {
        actions.modifications.compactMap { if case .delete("Authentication-Results", let i) = $0 { i } else { nil } }
    }

    @Test func forgedResultsAreRemovedFromIncomingMail() throws {
        let session = MilterSession(policy: try F.policy())
        let (actions, out) = F.run(session, message(Self.forgedForms + Self.othersForms),
                                   client: ("mx.o.net", "198.51.100.1"))
        #expect(deletions(actions) == Array((1...Self.forgedForms.count).reversed()))
        #expect(session.lastOutcome?.forgedResultsRemoved == Self.forgedForms.count)
        #expect(!String(decoding: out, as: UTF8.self).contains("legit.com"))
    }

    /// Mail of our own users is signed and cleaned too (local delivery, Mode s).
    @Test func forgedResultsAreRemovedFromMailWeSign() throws {
        let session = MilterSession(policy: try F.policy())
        let (actions, signed) = F.run(session, message(Self.forgedForms), macros: ["{auth_authen}": "alice"])
        #expect(session.lastOutcome?.decision == .signed)
        #expect(deletions(actions).count == Self.forgedForms.count)
        #expect(try F.verify(signed).map(\.result) == [.pass])
    }

    /// In Mode s an outside message is not verified, but the body is still awaited so that
    /// forged results can be removed; without forged results the body is skipped.
    @Test func forgedResultsAreRemovedInSignOnlyMode() throws {
        let policy = try F.policy { $0.verifies = false }
        let session = MilterSession(policy: policy)
        let (actions, _) = F.run(session, message(Self.forgedForms), client: ("mx.o.net", "198.51.100.1"))
        #expect(deletions(actions).count == Self.forgedForms.count)
        #expect(session.lastOutcome?.decision == .passed)
        _ = session.envelopeFrom(macros: [:])
        #expect(session.endOfHeaders() == .accept)
    }

    /// 10,001 fields, then a forged result: once only our permerror was added and the forgery kept.
    @Test func forgedResultsAreRemovedWhenTheHeaderSectionOverflows() throws {
        let session = MilterSession(policy: try F.policy())
        let (actions, _) = F.run(session, message([" mx.example.org; dkim=pass header.d=legit.com"],
                                                 fillers: MilterSession.maximumHeaderFields + 1),
                                 client: ("mx.o.net", "198.51.100.1"))
        #expect(session.lastOutcome?.reason == .headerTooLarge)
        #expect(deletions(actions) == [1])
        #expect(session.lastOutcome?.forgedResultsRemoved == 1)
    }
}
