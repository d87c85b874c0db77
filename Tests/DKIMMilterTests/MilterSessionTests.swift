import DKIM
import DKIMTestSupport
import Foundation
import MilterClient
import Testing
@testable import DKIMMilter
@testable import DKIMMilterCore

@Suite struct MilterSessionTests {
    typealias F = MilterFixtures

    func insertedSignatures(_ actions: EndOfMessageActions) -> [String] {
        actions.modifications.compactMap {
            if case .insert(_, "DKIM-Signature", let v) = $0 { return v } else { return nil }
        }
    }

    func authenticationResults(_ actions: EndOfMessageActions) -> String? {
        for m in actions.modifications { if case .insert(_, "Authentication-Results", let v) = m { return v } }
        return nil
    }

    @Test func signsForAnAuthenticatedClient() throws {
        let session = MilterSession(policy: try F.policy())
        let (actions, signed) = F.run(session, F.message, client: ("client.example.net", "203.0.113.5"),
                                      macros: ["{auth_authen}": "alice", "{auth_type}": "PLAIN"])
        #expect(actions.reply == .accept)
        #expect(insertedSignatures(actions).count == 1)
        #expect(try F.verify(signed).map(\.result) == [.pass])
        let outcome = try #require(session.lastOutcome)
        #expect(outcome.decision == .signed)
        #expect(outcome.reason == .authenticated)
        #expect(outcome.origin == .authenticated(user: "alice"))
        #expect(outcome.signaturesMade == [.init(domain: "example.com", selector: "sr2048a", algorithm: .rsaSHA256,
                                                 keyBits: 2048)])
        #expect(outcome.queueID == "QUEUEID")
        #expect(outcome.logLine == "QUEUEID: signing example.com with s=sr2048a (rsa-sha256): authenticated as alice")
    }

    /// Diagnostics yes: new signatures carry z= with the signed fields (RFC 6376 §3.5); off by default.
    @Test func diagnosticsCopiesTheSignedFieldsIntoZ() throws {
        let local = ("localhost", "127.0.0.1")
        let (plain, _) = F.run(MilterSession(policy: try F.policy()), F.message, client: local)
        #expect(insertedSignatures(plain).count == 1 && insertedSignatures(plain).allSatisfy { !$0.contains("z=") })
        let policy = try F.policy { $0.diagnostics = true }
        let (actions, signed) = F.run(MilterSession(policy: policy), F.message, client: local)
        let signature = try #require(insertedSignatures(actions).first)
        #expect(signature.contains("z=From:"), "\(signature)")
        #expect(try F.verify(signed).map(\.result) == [.pass])
    }

    @Test func signsForAnInternalHost() throws {
        let (actions, signed) = F.run(MilterSession(policy: try F.policy()), F.message,
                                      client: ("localhost", "127.0.0.1"))
        #expect(insertedSignatures(actions).count == 1)
        #expect(try F.verify(signed).map(\.result) == [.pass])
    }

    @Test func signsForAConfiguredDaemonName() throws {
        let policy = try F.policy {
            $0.signingDaemonNames = ["ORIGINATING"]; $0.internalHosts = try! NetworkList(parsing: [])
        }
        let (actions, _) = F.run(MilterSession(policy: policy), F.message, client: ("c", "198.51.100.7"),
                                 macros: ["{daemon_name}": "ORIGINATING"])
        #expect(insertedSignatures(actions).count == 1)
    }

    /// Open-signer protection: an outside client is never signed for, whatever its From says.
    @Test func neverSignsForAnOutsideClient() throws {
        let session = MilterSession(policy: try F.policy())
        let (actions, _) = F.run(session, F.message, client: ("evil.example.net", "203.0.113.9"))
        #expect(insertedSignatures(actions).isEmpty)
        #expect(authenticationResults(actions)?.contains("dkim=none") == true)
        let outcome = try #require(session.lastOutcome)
        #expect(outcome.decision == .verified)
        #expect(outcome.reason == .notInternal)
        #expect(outcome.origin == nil)
        #expect(outcome.client == "evil.example.net [203.0.113.9]")
        #expect(outcome.notes == ["From is alice@example.com, which has a key: "
                                      + "if this host is yours, add it to InternalHosts"])
        #expect(outcome.logLine.contains("not signing: client evil.example.net [203.0.113.9] "
                                         + "is not internal and not authenticated"))
        // Headers that look like authentication change nothing: only the MTA's macros count.
        let dressed = Array(("X-Authenticated-User: alice@example.com\r\nX-Auth-Authen: alice\r\n"
            + "Authentication-Results: mx.example.org; auth=pass smtp.auth=alice\r\n").utf8) + F.message
        let (dressedActions, _) = F.run(MilterSession(policy: try F.policy()), dressed,
                                        client: ("evil.example.net", "203.0.113.9"))
        #expect(insertedSignatures(dressedActions).isEmpty)
        let ignored = MilterSession(policy: try F.policy {
            $0.externalIgnoreList = try! NetworkList(parsing: ["203.0.113.0/24"])
        })
        _ = F.run(ignored, F.message, client: ("evil.example.net", "203.0.113.9"))
        #expect(ignored.lastOutcome?.notes == [])
    }

    /// Mode s, mail from outside: accepted at end of headers (the MTA then sends no body and no end
    /// of message), with its own outcome, passed untouched and why; the connection closing after
    /// it finds no message under way, so it is not counted again as aborted.
    @Test func anOutsideMessageAcceptedAtEndOfHeadersEndsThereWithItsOwnOutcome() throws {
        let session = MilterSession(policy: try F.policy { $0.verifies = false })
        _ = session.connect(hostname: "evil.example.net", address: "203.0.113.9")
        _ = session.envelopeFrom(macros: ["i": "4ABC"])
        for (name, value) in MilterConnection.split(F.message).0 {
            _ = session.header(name: name, value: value)
        }
        #expect(session.endOfHeaders() == .accept)
        let outcome = try #require(session.acceptedAtEndOfHeaders())
        #expect(outcome.decision == .passed)
        #expect(outcome.reason == .notInternal)
        #expect(outcome.reply == .accept)
        #expect(outcome.queueID == "4ABC")
        #expect(outcome.logLine.hasPrefix("4ABC: not signing: client evil.example.net [203.0.113.9] is not internal"),
                "\(outcome.logLine)")
        #expect(session.lastOutcome?.decision == .passed)
        #expect(session.abort() == nil)
        #expect(session.acceptedAtEndOfHeaders() == nil)
    }

    @Test func doesNotSignAMessageWithTwoFromFields() throws {
        let two = Array("From: a@example.com\r\nFrom: b@example.com\r\nSubject: x\r\n\r\nbody\r\n".utf8)
        let session = MilterSession(policy: try F.policy())
        let (actions, _) = F.run(session, two)
        #expect(insertedSignatures(actions).isEmpty)
        #expect(session.lastOutcome?.reason == .fromCount)
        #expect(session.lastOutcome?.decision == .verified)
        #expect(session.lastOutcome?.origin == .internalHost(client: "localhost [127.0.0.1]"))
    }

    /// An internal client writing as a domain we hold no key for: verified, not signed, and why.
    @Test func internalClientWhoseFromDomainHasNoKeyIsNotSignedForLackOfAKey() throws {
        let other = Array(String(decoding: F.message, as: UTF8.self)
            .replacingOccurrences(of: "alice@example.com", with: "alice@example.net").utf8)
        let session = MilterSession(policy: try F.policy())
        let (actions, _) = F.run(session, other, client: ("localhost", "127.0.0.1"))
        #expect(insertedSignatures(actions).isEmpty)
        let outcome = try #require(session.lastOutcome)
        #expect(outcome.reason == .noKey)
        #expect(outcome.decision == .verified)
        #expect(outcome.origin == .internalHost(client: "localhost [127.0.0.1]"))
        #expect(outcome.fromAddress == "alice@example.net")
    }

    /// One From field holding two addresses (RFC 5322 allows it, with Sender): no single author.
    @Test func fromFieldWithTwoAddressesIsNotSignedForLackOfOneFromAddress() throws {
        let two = Array("From: a@example.com, b@example.com\r\nTo: c@example.org\r\nSubject: x\r\n\r\nbody\r\n".utf8)
        let session = MilterSession(policy: try F.policy())
        let (actions, _) = F.run(session, two, client: ("localhost", "127.0.0.1"))
        #expect(insertedSignatures(actions).isEmpty)
        let outcome = try #require(session.lastOutcome)
        #expect(outcome.reason == .noFromAddress)
        #expect(outcome.decision == .verified)
        #expect(outcome.fromFieldCount == 1)
        #expect(outcome.fromAddress == nil)
    }

    /// The default InternalHosts is the loopback of both families.
    @Test func byDefaultClientsOnIPv4AndIPv6LoopbackAreInternal() throws {
        for address in ["127.0.0.1", "::1"] {
            let session = MilterSession(policy: try F.policy())
            let (actions, signed) = F.run(session, F.message, client: ("localhost", address))
            #expect(insertedSignatures(actions).count == 1, "\(address)")
            #expect(session.lastOutcome?.origin == .internalHost(client: "localhost [\(address)]"))
            #expect(try F.verify(signed).map(\.result) == [.pass])
        }
        let outside = MilterSession(policy: try F.policy())
        _ = F.run(outside, F.message, client: ("localhost", "::2"))
        #expect(outside.lastOutcome?.reason == .notInternal)
    }

    @Test func signsWithBothKeysRSAOnTop() throws {
        let keys = [try F.key("ed25519a.pem", selector: "seda"), try F.key("rsa2048a.pem", selector: "sr2048a")]
        let (actions, signed) = F.run(MilterSession(policy: try F.policy(keys: keys)), F.message)
        #expect(insertedSignatures(actions).count == 2)
        let results = try F.verify(signed)
        #expect(results.map(\.result) == [.pass, .pass])
        #expect(results.map(\.algorithm) == ["rsa-sha256", "ed25519-sha256"])
    }

    /// Re-injection after a content filter: our own valid signature is not made twice.
    @Test func doesNotSignAgainWhatWeAlreadySigned() throws {
        let (_, once) = F.run(MilterSession(policy: try F.policy()), F.message)
        let session = MilterSession(policy: try F.policy())
        let (again, twice) = F.run(session, once)
        #expect(insertedSignatures(again).isEmpty)
        #expect(twice == once)
        #expect(session.lastOutcome?.decision == .passed)
        #expect(session.lastOutcome?.reason == .alreadySigned)
        #expect(session.lastOutcome?.notes == ["already signed by example.com s=sr2048a, not signed again"])
    }

    @Test(arguments: Chunking.smallSizes + [64, 65535])
    func signatureDoesNotDependOnChunking(_ size: Int) throws {
        let (whole, _) = F.run(MilterSession(policy: try F.policy()), F.message)
        let (chunked, _) = F.run(MilterSession(policy: try F.policy()), F.message, chunkSize: size)
        #expect(insertedSignatures(chunked) == insertedSignatures(whole))
    }

    @Test func verifiesAnIncomingSignedMessage() throws {
        let message = try Fixtures.bytes("corpus/messages/canon-basic-rr.eml")
        let (actions, _) = F.run(MilterSession(policy: try F.policy()), message,
                                 client: ("mx.other.net", "198.51.100.1"))
        let ar = try #require(authenticationResults(actions))
        #expect(ar.hasPrefix(" mx.example.org;"))
        #expect(ar.contains("dkim=pass header.d=example.com header.i=@example.com header.s=sr2048a "
                            + "header.a=rsa-sha256 header.b="))
        #expect(actions.reply == .accept)
    }

    @Test func reportsAFailedSignatureWithItsReason() throws {
        var message = try Fixtures.bytes("corpus/messages/canon-basic-rr.eml")
        message[message.count - 4] ^= 0x01
        let (actions, _) = F.run(MilterSession(policy: try F.policy()), message,
                                 client: ("mx.other.net", "198.51.100.1"))
        #expect(authenticationResults(actions)?.contains("dkim=fail (body hash mismatch") == true)
    }

    /// RFC 8601 §5: every Authentication-Results claiming our authserv-id is removed, highest
    /// index first (the MTA renumbers after each deletion), and ones of others are kept.
    @Test func removesForgedAuthenticationResultsHighestIndexFirst() throws {
        let forged = Array("""
            Authentication-Results: mx.example.org; dkim=pass header.d=paypal.com\r
            Authentication-Results: other.example.net; spf=pass\r
            Authentication-Results: MX.Example.ORG;\r
            \tdkim=pass\r
            Authentication-Results: (comment) mx.example.org 1; dkim=pass\r
            From: a@example.net\r
            Subject: x\r
            Authentication-Results: mx.example.org; spf=pass\r
            \r
            body\r

            """.utf8)
        let (actions, out) = F.run(MilterSession(policy: try F.policy()), forged, client: ("x", "198.51.100.2"))
        let deletions = actions.modifications.compactMap { m -> Int? in
            if case .delete("Authentication-Results", let i) = m { return i } else { return nil }
        }
        #expect(deletions == [5, 4, 3, 1])
        let text = String(decoding: out, as: UTF8.self)
        #expect(text.contains("other.example.net; spf=pass"))
        #expect(!text.contains("paypal"))
        #expect(text.components(separatedBy: "mx.example.org").count == 2)  // only ours is left
    }

    @Test func dnsFailureGivesTemperrorAndTheConfiguredAction() throws {
        let message = try Fixtures.bytes("corpus/messages/canon-basic-rr.eml")
        let down = StaticTXTResolver(["sr2048a._domainkey.example.com": .temporaryFailure(reason: "SERVFAIL")])
        let (accepted, _) = F.run(MilterSession(policy: try F.policy(resolver: down)), message,
                                  client: ("x", "198.51.100.3"))
        #expect(authenticationResults(accepted)?.contains("dkim=temperror") == true)
        #expect(accepted.reply == .accept)
        let policy = try F.policy(resolver: down) { $0.onDNSError = .tempfail }
        let (deferred, _) = F.run(MilterSession(policy: policy), message, client: ("x", "198.51.100.3"))
        #expect(deferred.reply == .tempfail)
    }

    /// Each On-BadSignature action and the reply it must give, written out (not the code's mapping).
    @Test(arguments: [(ResultAction.accept, MilterReply.accept), (.reject, .reject), (.tempfail, .tempfail),
                      (.discard, .discard), (.quarantine, .quarantine(reason: "DKIM verification"))])
    func badSignatureGetsTheConfiguredAction(_ action: ResultAction, _ reply: MilterReply) throws {
        let message = try Fixtures.bytes("corpus/messages/tamper-body-one-char.eml")
        let policy = try F.policy { $0.onBadSignature = action }
        let session = MilterSession(policy: policy)
        let (actions, _) = F.run(session, message, client: ("x", "198.51.100.4"))
        #expect(actions.reply == reply)
        #expect(session.lastOutcome?.reply == reply)
        #expect(session.lastOutcome?.policyAction?.option == .onBadSignature)
    }

    /// Every action is in the table above.
    @Test func everyResultActionHasAnExpectedReply() {
        #expect(ResultAction.allCases == [.accept, .discard, .reject, .tempfail, .quarantine])
    }

    @Test func sessionIsReusableAfterAnAbort() throws {
        let session = MilterSession(policy: try F.policy())
        _ = session.connect(hostname: "localhost", address: "127.0.0.1")
        _ = session.envelopeFrom(macros: [:])
        _ = session.header(name: "From", value: Array(" a@example.com".utf8))
        session.abort()
        let (actions, signed) = F.run(session, F.message)
        #expect(insertedSignatures(actions).count == 1)
        #expect(try F.verify(signed).map(\.result) == [.pass])
    }

    /// A header section past the limit is passed on untouched, with a result saying why.
    @Test func oversizedHeaderSectionIsPassedOnWithAPermanentError() throws {
        let many = Array(String(repeating: "X-Filler: some text\r\n",
                                count: MilterSession.maximumHeaderFields + 5).utf8)
        let message = Array("From: Alice <alice@example.com>\r\n".utf8) + many + Array("\r\nbody\r\n".utf8)
        let session = MilterSession(policy: try F.policy())
        let (actions, _) = F.run(session, message, client: ("localhost", "127.0.0.1"))
        #expect(insertedSignatures(actions).isEmpty)
        #expect(authenticationResults(actions)?.contains("dkim=permerror (header section too large)") == true)
        #expect(actions.reply == .accept)
        #expect(session.lastOutcome?.decision == .passed)
        #expect(session.lastOutcome?.reason == .headerTooLarge)
        // The next message on the connection is handled normally.
        let (next, signed) = F.run(session, F.message)
        #expect(insertedSignatures(next).count == 1)
        #expect(try F.verify(signed).map(\.result) == [.pass])
    }

    /// Line length: there is no limit to hit. A body that is one 8 MiB line without a line
    /// break, and a header field of one 500 KB line, are signed in 65,535-byte chunks (as
    /// Postfix sends them) and the signature verifies.
    @Test func veryLongLinesAreSignedAndVerify() throws {
        let longField = "X-Long: " + String(repeating: "y", count: 500_000) + "\r\n"
        let body = [UInt8](repeating: UInt8(ascii: "z"), count: 8 << 20)
        let message = Array(("From: Alice <alice@example.com>\r\nTo: bob@example.org\r\n" + longField
                             + "Subject: long\r\n\r\n").utf8) + body
        let (actions, signed) = F.run(MilterSession(policy: try F.policy()), message,
                                      client: ("localhost", "127.0.0.1"), chunkSize: 65535)
        #expect(insertedSignatures(actions).count == 1)
        #expect(try F.verify(signed).map(\.result) == [.pass])
    }

    // MARK: Limits, as the README's figures (a changed constant changes a test)

    static let head = "From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: limits\r\n"

    func expectSigned(_ message: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let session = MilterSession(policy: try F.policy())
        let (actions, signed) = F.run(session, message)
        #expect(session.lastOutcome?.decision == .signed, sourceLocation: sourceLocation)
        #expect(insertedSignatures(actions).count == 1, sourceLocation: sourceLocation)
        #expect(try F.verify(signed).map(\.result) == [.pass], sourceLocation: sourceLocation)
    }

    func expectTooLarge(_ message: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let session = MilterSession(policy: try F.policy())
        let (actions, _) = F.run(session, message)
        #expect(session.lastOutcome?.reason == .headerTooLarge, sourceLocation: sourceLocation)
        #expect(insertedSignatures(actions).isEmpty, sourceLocation: sourceLocation)
        #expect(authenticationResults(actions)?.contains("dkim=permerror (header section too large)") == true,
                sourceLocation: sourceLocation)
    }

    /// 10,000 header fields are signed; a 10,001st makes the header section too large.
    @Test func tenThousandHeaderFieldsAreSignedAndTenThousandAndOneAreTooMany() throws {
        func message(fields: Int) -> [UInt8] {
            Array((Self.head + String(repeating: "X-Filler: f\r\n", count: fields - 3) + "\r\nbody\r\n").utf8)
        }
        try expectSigned(message(fields: 10_000))
        try expectTooLarge(message(fields: 10_001))
    }

    /// A header section of 4 MiB (every field with its CRLF, 4,194,304 bytes) is signed; one byte
    /// more is too large.
    @Test func fourMiBOfHeaderSectionIsSignedAndOneByteMoreIsTooMuch() throws {
        func message(headerBytes: Int) -> [UInt8] {
            let filler = headerBytes - Self.head.utf8.count - "X-Big: \r\n".utf8.count
            return Array((Self.head + "X-Big: " + String(repeating: "b", count: filler) + "\r\n\r\nbody\r\n").utf8)
        }
        #expect(message(headerBytes: 4_194_304).count == 4_194_304 + "\r\nbody\r\n".utf8.count)
        try expectSigned(message(headerBytes: 4_194_304))
        try expectTooLarge(message(headerBytes: 4_194_305))
    }

    /// MaximumSignaturesToVerify is 5 by default: of six valid signatures the first five are
    /// evaluated and the sixth is reported neutral in Authentication-Results; five are all evaluated.
    @Test func byDefaultFiveSignaturesAreVerifiedAndTheSixthIsReportedNeutral() throws {
        #expect(MilterConfiguration().maximumSignaturesToVerify == 5)
        let ed25519 = try F.policy(keys: [try F.key("ed25519a.pem", selector: "seda")])
        let (_, signed) = F.run(MilterSession(policy: ed25519), F.message)
        let field = Array(signed.prefix(signed.count - F.message.count))
        #expect(field.starts(with: Array("DKIM-Signature:".utf8)))
        func results(_ copies: Int) throws -> [String] {
            let message = Array(repeating: field, count: copies).flatMap { $0 } + F.message
            let (actions, _) = F.run(MilterSession(policy: try F.policy()), message,
                                     client: ("mx.other.net", "198.51.100.1"))
            let ar = try #require(authenticationResults(actions))
            return ar.components(separatedBy: "dkim=").dropFirst().map { String($0.prefix { $0.isLetter }) }
        }
        #expect(try results(5) == Array(repeating: "pass", count: 5))
        #expect(try results(6) == Array(repeating: "pass", count: 5) + ["neutral"])
    }
}
