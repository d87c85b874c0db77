import DKIM
import DKIMKeyTool
import DKIMOpenSSL
import DKIMTestSupport
import Foundation
import Testing

/// `dkimkey check`: the judging of a lookup result (no DNS), and the command end to end against a
/// real dnsmasq on loopback.
@Suite("dkimkey check")
struct CheckTests {
    // MARK: - Keys and records for the judging tests

    /// Keys made once for the judging tests.
    enum Keys {
        static let rsa = try! PrivateKey.generate(type: .rsa, bits: 2048)
        static let otherRSA = try! PrivateKey.generate(type: .rsa, bits: 2048)
        static let rsa1024 = try! PrivateKey.generate(type: .rsa, bits: 1024)
        static let rsa512 = try! PrivateKey.generate(type: .rsa, bits: 512)
        static let ed25519 = try! PrivateKey.generate(type: .ed25519)
        /// A 3072-bit key whose public exponent has 3071 bits (issue 18): costly to verify.
        static let hugeExponent = try! PrivateKey(pemOrSeed: Fixtures.text("keys/rsa3072-huge-exponent.pem"))
    }

    static func p(_ key: PrivateKey) -> String { Base64.encode(key.publicKeyData) }

    /// The record `dkimkey generate` prints for the key.
    static func record(_ key: PrivateKey) -> String { "v=DKIM1; k=\(key.keyType.rawValue); p=\(p(key))" }

    static let selector = "mail2026"
    static let domain = "example.com"
    static let name = "mail2026._domainkey.example.com"
    static let keyPath = "Keys/example.com/mail2026.pem"

    static func judge(_ lookup: TXTLookupResult, key: PrivateKey? = Keys.rsa,
                      nearMisses: [KeyCheck.NearMiss] = []) -> KeyCheckReport {
        KeyCheck.judge(selector: selector, domain: domain, lookup: lookup, nearMisses: nearMisses,
                       privateKey: key, keyPath: keyPath, crypto: OpenSSLCryptoProvider(),
                       server: "the DNS server 192.0.2.53")
    }

    static func judge(_ records: String..., key: PrivateKey? = Keys.rsa) -> KeyCheckReport {
        judge(.records(records), key: key)
    }

    @Suite("judging a lookup result")
    struct Judging {
        func expectStatus(_ report: KeyCheckReport, _ check: String, _ status: KeyCheckReport.Status,
                          containing words: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) {
            let c = report.check(check)
            #expect(c?.status == status, "\(check): \(report.text())", sourceLocation: sourceLocation)
            for word in words {
                #expect(c?.message.contains(word) == true,
                        "\(check) lacks \"\(word)\": \(c?.message ?? "no such check")",
                        sourceLocation: sourceLocation)
            }
        }

        @Test func theRecordOfThePrivateKeyMatches() {
            for key in [Keys.rsa, Keys.ed25519] {
                let r = judge(record(key), key: key)
                #expect(r.passed && r.matches && r.found && r.exitCode == 0, "\(r.text())")
                #expect(r.name == name)
                #expect(r.record == record(key))
                #expect(r.checks.map(\.check) == ["dns", "syntax", "key", "match"], "\(r.text())")
                #expect(r.checks.allSatisfy { $0.status == .ok }, "\(r.text())")
                expectStatus(r, "match", .ok, containing: [keyPath])
            }
            expectStatus(judge(record(Keys.rsa)), "key", .ok, containing: ["RSA", "2048 bits"])
            expectStatus(judge(record(Keys.ed25519), key: Keys.ed25519), "key", .ok, containing: ["Ed25519"])
        }

        @Test func whitespaceInPAndABarePKCS1KeyStillMatch() {
            // p= split by spaces (as some panels show long values), without v=: still the same key.
            let spaced = "k=rsa;p=" + p(Keys.rsa).enumerated().map {
                $0.offset > 0 && $0.offset % 64 == 0 ? " \($0.element)" : "\($0.element)"
            }.joined()
            #expect(judge(spaced).passed, "\(judge(spaced).text())")
            // A bare PKCS#1 RSAPublicKey (what some old tools publish): the SubjectPublicKeyInfo of a
            // 2048-bit key less its 24-byte header.
            let spki = Keys.rsa.publicKeyData
            #expect(spki.count == 294)
            let pkcs1 = "v=DKIM1; k=rsa; p=" + Base64.encode(spki[24...])
            #expect(judge(pkcs1).passed, "\(judge(pkcs1).text())")
        }

        @Test func aMissingNameSaysTheExactNameAndWhatToEnter() {
            let r = judge(.nameNotFound)
            #expect(!r.found && !r.matches && r.record == nil && r.exitCode == 1)
            expectStatus(r, "dns", .fail,
                         containing: ["no TXT record at mail2026._domainkey.example.com", "mail2026._domainkey"])
            // With the private key, the record to publish is in the report.
            expectStatus(r, "match", .fail, containing: [record(Keys.rsa)])
            #expect(judge(.records([])).check("dns")?.status == .fail)
        }

        @Test func aRecordUnderTheDoubledNameIsPointedOut() {
            let doubled = "mail2026._domainkey.example.com.example.com"
            let names = KeyCheck.nearMissNames(selector: selector, domain: domain).map(\.1)
            #expect(names.contains(doubled))
            let r = judge(.nameNotFound, nearMisses: [
                .init(.doubledDomain, name: doubled, result: .records([record(Keys.rsa)])),
                .init(.missingDomainKey, name: "mail2026.example.com", result: .nameNotFound),
            ])
            expectStatus(r, "doubled-name", .fail, containing: [doubled, "rename", "mail2026._domainkey"])
            #expect(r.check("missing-_domainkey") == nil)
            #expect(!r.passed)
        }

        @Test func aRecordWithoutDomainKeyInItsNameIsPointedOutOnlyWhenItIsAKey() {
            let key = judge(.nameNotFound, nearMisses: [
                .init(.missingDomainKey, name: "mail2026.example.com", result: .records([record(Keys.rsa)]))])
            expectStatus(key, "missing-_domainkey", .fail, containing: ["mail2026.example.com", "._domainkey"])
            let spf = judge(.nameNotFound, nearMisses: [
                .init(.missingDomainKey, name: "mail2026.example.com", result: .records(["v=spf1 -all"]))])
            #expect(spf.check("missing-_domainkey") == nil, "\(spf.text())")
        }

        @Test func aTemporaryFailureSaysTheServerDidNotAnswer() {
            let r = judge(.temporaryFailure(reason: "timed out"))
            #expect(r.exitCode == 1 && !r.found && !r.matches)
            #expect(r.checks.count == 1)
            expectStatus(r, "dns", .fail, containing: ["192.0.2.53", "no answer", name, "timed out"])
        }

        @Test func quotesPastedIntoTheValueAreNamed() {
            for text in ["\"\(record(Keys.rsa))\"",
                         "\"v=DKIM1; k=rsa; \" \"p=\(p(Keys.rsa))\"",
                         "“\(record(Keys.rsa))”"] {
                let r = judge(text)
                expectStatus(r, "quotes", .fail, containing: ["quote", "without any quotes"])
                #expect(!r.matches && r.exitCode == 1, "\(r.text())")
                #expect(r.check("truncated") == nil, "\(r.text())")
            }
        }

        @Test func backslashesPastedIntoTheValueAreNamed() {
            let r = judge("v=DKIM1\\; k=rsa\\; p=\(p(Keys.rsa))")
            expectStatus(r, "backslashes", .fail, containing: ["backslash", "\\;"])
            #expect(r.check("quotes") == nil)
            #expect(r.exitCode == 1)
        }

        @Test func aWholeZoneLinePastedIsNamed() {
            let r = judge("mail2026._domainkey.example.com. IN TXT ( \"\(record(Keys.rsa))\" )")
            expectStatus(r, "zone-line", .fail, containing: ["zone-file line"])
            expectStatus(r, "quotes", .fail)
        }

        @Test func aTruncatedPIsExplainedWithTheExpectedLength() throws {
            let full = record(Keys.rsa)
            let first255 = String(full.utf8.prefix(255))!
            let need = p(Keys.rsa).utf8.count
            let have = first255.utf8.count - "v=DKIM1; k=rsa; p=".utf8.count
            // With the private key: its p= length.
            let r = judge(first255)
            expectStatus(r, "truncated", .fail,
                         containing: ["truncated", "\(have) characters", "\(need)", keyPath, "2048-bit"])
            #expect(r.check("syntax") == nil, "\(r.text())")
            #expect(!r.matches && r.exitCode == 1)
            // Without it: the length the key's DER header declares.
            let alone = judge(first255, key: nil)
            expectStatus(alone, "truncated", .fail, containing: ["\(have) characters", "\(need)", "header"])
            // Cut at a multiple of four characters: valid base64, so the record parses, but no key.
            let p236 = "v=DKIM1; k=rsa; p=" + String(p(Keys.rsa).prefix(236))
            expectStatus(judge(p236), "truncated", .fail, containing: ["236 characters", "\(need)"])
            expectStatus(judge(p236, key: nil), "truncated", .fail, containing: ["236 characters", "\(need)"])
            // A shorter, unreadable p= against a smaller private key: the length from the header.
            expectStatus(judge(first255, key: Keys.rsa1024), "truncated", .fail,
                         containing: ["\(have) characters", "header", "\(need)"])
            // Not a DER header, but shorter than the private key's p=: still truncated.
            let garbled = "v=DKIM1; k=rsa; p=" + String(repeating: "A", count: 101)
            expectStatus(judge(garbled), "truncated", .fail, containing: ["101 characters", "\(need)", "2048-bit"])
            #expect(judge(garbled, key: nil).check("truncated") == nil)
            // Ed25519: 44 characters.
            let ed = "v=DKIM1; k=ed25519; p=" + String(p(Keys.ed25519).prefix(40))
            expectStatus(judge(ed, key: Keys.ed25519), "truncated", .fail, containing: ["40 characters", "44"])
        }

        @Test func tYStillSetIsAWarningOnly() {
            let r = judge("v=DKIM1; k=rsa; t=y; p=\(p(Keys.rsa))")
            expectStatus(r, "testing", .warn, containing: ["t=y", "remove t=y"])
            #expect(r.passed && r.exitCode == 0, "\(r.text())")
        }

        @Test func aRevokedKeyFails() {
            let r = judge("v=DKIM1; k=rsa; p=")
            expectStatus(r, "revoked", .fail, containing: ["revoked", "p= is empty"])
            #expect(!r.matches && r.exitCode == 1)
            #expect(r.check("truncated") == nil)
        }

        @Test func smallKeysWarnBelow2048AndFailBelow1024() {
            let warned = judge(record(Keys.rsa1024), key: Keys.rsa1024)
            expectStatus(warned, "key", .warn, containing: ["1024 bits", "2048"])
            #expect(warned.passed && warned.exitCode == 0, "\(warned.text())")
            let failed = judge(record(Keys.rsa512), key: Keys.rsa512)
            expectStatus(failed, "key", .fail, containing: ["512 bits", "1024", "dkimkey generate"])
            #expect(failed.matches, "the key is the private key's half, but too small")
            #expect(!failed.passed && failed.exitCode == 1)
        }

        /// Receivers refuse an RSA exponent above 32 bits (issue 18); check says so although the
        /// record is the private key's own half.
        @Test func aPublishedKeyWithAHugePublicExponentFailsNamingTheExponent() {
            let r = judge(record(Keys.hugeExponent), key: Keys.hugeExponent)
            expectStatus(r, "key", .fail, containing: ["the RSA public exponent has 3071 bits; at most 32 are accepted",
                                                       "dkimkey generate"])
            #expect(!r.passed && r.exitCode == 1, "\(r.text())")
        }

        @Test func aKeyOfAnotherTypeThanKIsNamed() {
            // An Ed25519 key under k=rsa, and with no k= at all (which means rsa).
            let r = judge("v=DKIM1; k=rsa; p=\(p(Keys.ed25519))", key: Keys.ed25519)
            expectStatus(r, "key-type", .fail, containing: ["Ed25519", "k=rsa", "k=ed25519"])
            expectStatus(r, "match", .fail, containing: ["k= is fixed"])
            #expect(!r.matches && r.exitCode == 1)
            expectStatus(judge("v=DKIM1; p=\(p(Keys.ed25519))", key: Keys.ed25519), "key-type", .fail,
                         containing: ["no k=", "k=ed25519"])
            // An RSA key under k=ed25519.
            expectStatus(judge("v=DKIM1; k=ed25519; p=\(p(Keys.rsa))"), "key-type", .fail, containing: ["RSA", "k=rsa"])
        }

        @Test func anotherKeyDoesNotMatch() {
            let r = judge(record(Keys.otherRSA))
            expectStatus(r, "syntax", .ok)
            expectStatus(r, "match", .fail, containing: ["does not match", keyPath, record(Keys.rsa)])
            #expect(!r.matches && r.exitCode == 1)
            // A valid key of another type than the private key.
            let typed = judge(record(Keys.ed25519), key: Keys.rsa)
            expectStatus(typed, "match", .fail, containing: ["does not match", "Ed25519", "RSA"])
        }

        @Test func withoutAPrivateKeyTheRecordIsCheckedButNothingMatches() {
            let r = judge(record(Keys.rsa), key: nil)
            expectStatus(r, "syntax", .ok)
            expectStatus(r, "key", .ok)
            expectStatus(r, "match", .fail, containing: ["no private key", keyPath, "--key"])
            #expect(!r.matches && r.exitCode == 1)
        }

        @Test func severalRecordsWarnAndDifferentKeysFail() {
            // Another TXT record beside the key: a warning; the key record is the one judged.
            let spf = judge(.records(["v=spf1 -all", record(Keys.rsa)]))
            expectStatus(spf, "several-records", .warn, containing: ["2 TXT records", "RFC 6376 §3.6.2.2"])
            #expect(spf.record == record(Keys.rsa))
            #expect(spf.passed, "\(spf.text())")
            // The same record twice: a warning.
            expectStatus(judge(.records([record(Keys.rsa), record(Keys.rsa)])), "several-records", .warn)
            // An old key beside the current one: receivers pick either, a failure; the matching one is judged.
            let two = judge(.records([record(Keys.otherRSA), record(Keys.rsa)]))
            expectStatus(two, "several-records", .fail, containing: ["2 different DKIM key records", "delete"])
            #expect(two.record == record(Keys.rsa))
            #expect(two.matches && !two.passed && two.exitCode == 1)
        }

        @Test func otherSyntaxErrorsAndRestrictions() {
            expectStatus(judge("v=DKIM2; k=rsa; p=\(p(Keys.rsa))"), "syntax", .fail, containing: ["DKIM1"])
            expectStatus(judge("v=DKIM1; k=dsa; p=\(p(Keys.rsa))"), "syntax", .fail, containing: ["k=dsa"])
            expectStatus(judge("v=spf1 -all"), "syntax", .fail)
            let sha1 = judge("v=DKIM1; k=rsa; h=sha1; p=\(p(Keys.rsa))")
            expectStatus(sha1, "hash", .fail, containing: ["h=sha1", "remove h="])
            #expect(!sha1.passed)
            expectStatus(judge("v=DKIM1; k=rsa; s=web; p=\(p(Keys.rsa))"), "service", .fail, containing: ["s=web"])
            #expect(judge("v=DKIM1; k=rsa; h=sha1:sha256; s=email; p=\(p(Keys.rsa))").passed)
        }

        @Test func jsonHasTheFields() throws {
            for report in [judge(record(Keys.rsa)), judge(.nameNotFound, key: nil)] {
                let line = report.json()
                #expect(!line.contains("\n"))
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                #expect(Set(object.keys) == ["name", "found", "record", "checks", "matches"], "\(line)")
                #expect(object["name"] as? String == name)
                #expect(object["found"] as? Bool == report.found)
                #expect(object["matches"] as? Bool == report.matches)
                if report.found {
                    #expect(object["record"] as? String == record(Keys.rsa))
                } else {
                    #expect(object["record"] is NSNull, "record must be null, not left out: \(line)")
                }
                let checks = try #require(object["checks"] as? [[String: Any]])
                #expect(checks.count == report.checks.count)
                for c in checks {
                    #expect(Set(c.keys) == ["check", "status", "message"], "\(c)")
                    #expect(["ok", "warn", "fail"].contains(c["status"] as? String ?? ""))
                }
            }
        }

        @Test func textHasOneLinePerCheck() {
            let r = judge("v=DKIM1; k=rsa; t=y; p=\(p(Keys.otherRSA))")
            let lines = r.text().split(separator: "\n").map(String.init)
            #expect(lines.first == "Looked up TXT \(name)")
            for c in r.checks {
                let word = ["ok": "OK  ", "warn": "WARN", "fail": "FAIL"][c.status.rawValue]!
                #expect(lines.filter { $0.hasPrefix("\(word) \(c.check): ") }.count == 1, "\(r.text())")
            }
            #expect(lines.last?.hasPrefix("Result: not ready") == true)
        }

        @Test func runLooksUpTheNameAndTheNearMissesAndReadsTheKey() throws {
            let dir = try Fixtures.makeTemporaryDirectory()
            defer { Fixtures.removeTemporaryDirectory(dir) }
            try FileManager.default.createDirectory(atPath: dir + "/example.com", withIntermediateDirectories: true)
            try Data(try Keys.rsa.pkcs8PEM().utf8).write(to: URL(fileURLWithPath: dir + "/example.com/mail2026.pem"))
            let resolver = StaticTXTResolver([
                name: .records([record(Keys.rsa)]),
                "gone._domainkey.example.com.example.com": .records([record(Keys.rsa)]),
            ])
            // The default key path, the domain in any case with a final dot.
            let ok = try KeyCheck.run(selector: selector, domain: "Example.COM.", keyPath: nil, keysDirectory: dir,
                                      resolver: resolver, server: "test")
            #expect(ok.passed && ok.name == name, "\(ok.text())")
            let gone = try KeyCheck.run(selector: "gone", domain: domain, keyPath: nil, keysDirectory: dir,
                                        resolver: resolver, server: "test")
            #expect(gone.check("doubled-name")?.status == .fail, "\(gone.text())")
            expectStatus(gone, "match", .fail, containing: [dir + "/example.com/gone.pem", "does not exist"])
            // A key named with --key must exist and be a key: exit 2.
            #expect(throws: ToolError.self) {
                try KeyCheck.run(selector: selector, domain: domain, keyPath: dir + "/nope.pem", keysDirectory: dir,
                                 resolver: resolver, server: "test")
            }
            for (s, d) in [("bad selector", domain), (selector, "localhost"), (selector, "exa mple.com")] {
                let error = #expect(throws: ToolError.self) {
                    try KeyCheck.run(selector: s, domain: d, keyPath: nil, keysDirectory: dir, resolver: resolver,
                                     server: "test")
                }
                #expect(error?.exitCode == 2)
            }
        }
    }

    // MARK: - End to end: dkimkey generate, dnsmasq, dkimkey check

    @Suite("published in dnsmasq", .publishedRecords)
    struct Published {
        func check(_ arguments: [String],
                   sourceLocation: SourceLocation = #_sourceLocation) throws -> ProcessRunner.Result {
            let dns = try PublishedRecords.shared()
            let r = try CLI.run(["check"] + arguments + ["--nameserver", "127.0.0.1:\(dns.port)", "--timeout", "2"])
            #expect(r.endedNormally, "\(r.summary)", sourceLocation: sourceLocation)
            return r
        }

        @Test func theRecordGeneratePrintedPasses() throws {
            let dns = try PublishedRecords.shared()
            let r = try check(["good", "--domain", "example.com", "--keys-dir", dns.keysDir])
            #expect(r.status == 0, "\(r.summary)")
            #expect(r.stderr.isEmpty, "\(r.stderr)")
            let out = r.stdoutText
            #expect(out.hasPrefix("Looked up TXT good._domainkey.example.com\n"), "\(out)")
            for line in ["OK   dns: found a TXT record at good._domainkey.example.com",
                         "OK   syntax: ", "OK   key: an RSA key of 2048 bits",
                         "OK   match: the published key is the public half of \(dns.keysDir)/example.com/good.pem",
                         "Result: OK"] {
                #expect(out.contains(line), "missing \(line) in: \(out)")
            }
            #expect(!out.contains("FAIL") && !out.contains("WARN"), "\(out)")
        }

        @Test func theSameKeyAsSeveral255ByteStringsPasses() throws {
            let dns = try PublishedRecords.shared()
            #expect(dns.bigStrings >= 3, "the 4096-bit record should need several strings")
            let r = try check(["big", "--domain", "example.com", "--key", dns.keysDir + "/example.com/big.pem"])
            #expect(r.status == 0, "\(r.summary)")
            #expect(r.stdoutText.contains("OK   key: an RSA key of 4096 bits"), "\(r.stdoutText)")
        }

        @Test func aTruncatedRecordFailsWithTheExplanation() throws {
            let dns = try PublishedRecords.shared()
            let r = try check(["cut", "--domain", "example.com", "--key", dns.goodKey])
            #expect(r.status == 1, "\(r.summary)")
            let out = r.stdoutText
            #expect(out.contains("FAIL truncated: p= is truncated: it holds 237 characters"), "\(out)")
            #expect(out.contains("392"), "\(out)")
            #expect(out.contains("255 characters"), "\(out)")
        }

        @Test func quotesPastedInFail() throws {
            let dns = try PublishedRecords.shared()
            let r = try check(["quoted", "--domain", "example.com", "--key", dns.goodKey])
            #expect(r.status == 1, "\(r.summary)")
            #expect(r.stdoutText.contains("FAIL quotes: the value contains quote characters"), "\(r.stdoutText)")
            #expect(r.stdoutText.contains("Record: \"v=DKIM1;"), "\(r.stdoutText)")
        }

        @Test func theRecordOfAnotherKeyDoesNotMatch() throws {
            let dns = try PublishedRecords.shared()
            let r = try check(["stranger", "--domain", "example.com", "--key", dns.goodKey])
            #expect(r.status == 1, "\(r.summary)")
            let out = r.stdoutText
            #expect(out.contains("OK   syntax"), "\(out)")
            #expect(out.contains("FAIL match: the published key does not match the private key \(dns.goodKey)"),
                    "\(out)")
            #expect(out.contains(dns.goodRecord), "the fix should show the record to publish: \(out)")
        }

        @Test func aNameWithNoRecordFailsNamingTheExactName() throws {
            let dns = try PublishedRecords.shared()
            let r = try check(["nothing", "--domain", "example.com", "--key", dns.goodKey])
            #expect(r.status == 1, "\(r.summary)")
            #expect(r.stdoutText.contains("FAIL dns: no TXT record at nothing._domainkey.example.com "
                                          + "(the exact name looked up)"),
                    "\(r.stdoutText)")
            #expect(!r.stdoutText.contains("doubled-name"), "\(r.stdoutText)")
        }

        @Test func aRecordUnderTheDoubledNameIsFound() throws {
            let dns = try PublishedRecords.shared()
            let r = try check(["panel", "--domain", "example.com", "--key", dns.goodKey])
            #expect(r.status == 1, "\(r.summary)")
            #expect(r.stdoutText.contains("FAIL doubled-name: but there is a TXT record at "
                                          + "panel._domainkey.example.com.example.com"),
                    "\(r.stdoutText)")
        }

        @Test func aServerThatDoesNotAnswerFails() throws {
            // dnsmasq refuses names outside example.com (no upstream server).
            let dns = try PublishedRecords.shared()
            let r = try check(["good", "--domain", "example.net", "--key", dns.goodKey])
            #expect(r.status == 1, "\(r.summary)")
            #expect(r.stdoutText.contains("FAIL dns: the DNS server 127.0.0.1:\(dns.port) "
                                          + "gave no answer for good._domainkey.example.net"),
                    "\(r.stdoutText)")
        }

        @Test func jsonParsesAndHasTheFields() throws {
            let dns = try PublishedRecords.shared()
            for (selector, status) in [("good", Int32(0)), ("cut", 1), ("nothing", 1)] {
                let r = try check([selector, "--domain", "example.com", "--key", dns.goodKey, "--json"])
                #expect(r.status == status, "\(r.summary)")
                let objects = try r.jsonLines()
                #expect(objects.count == 1, "\(r.stdoutText)")
                let o = try #require(objects.first)
                #expect(string(o, "name") == "\(selector)._domainkey.example.com")
                #expect(o["found"] as? Bool == (selector != "nothing"))
                #expect(o["matches"] as? Bool == (selector == "good"))
                if selector == "good" { #expect(string(o, "record") == dns.goodRecord) }
                if selector == "nothing" { #expect(o["record"] is NSNull, "\(r.stdoutText)") }
                let checks = try #require(o["checks"] as? [[String: Any]], "\(r.stdoutText)")
                #expect(!checks.isEmpty)
                for c in checks {
                    #expect(!string(c, "check").isEmpty && !string(c, "message").isEmpty, "\(c)")
                    #expect(["ok", "warn", "fail"].contains(string(c, "status")), "\(c)")
                }
                if selector == "cut" {
                    #expect(checks.contains { string($0, "check") == "truncated" }, "\(r.stdoutText)")
                }
            }
        }

    }

    @Suite("command line")
    struct Usage {
        @Test(arguments: [
            ["good", "--domain", "example.com", "--timeout", "0"],
            ["good", "--domain", "example.com", "--nameserver", "dns.example"],
            ["good", "--domain", "example.com", "--key", "/nonexistent/key.pem"],
            ["good", "--domain", "example.com", "--key", "k.pem", "--keys-dir", "Keys"],
            ["good"],
            ["bad_sel ector", "--domain", "example.com"],
        ])
        func usageAndIOErrorsExitTwo(_ arguments: [String]) throws {
            let r = try CLI.run(["check"] + arguments)
            #expect(r.status == 2, "\(arguments): \(r.summary)")
            #expect(r.stdout.isEmpty, "\(arguments): \(r.stdoutText)")
            #expect(r.stderr.contains("dkimkey") || r.stderr.contains("Error:"), "\(arguments): \(r.stderr)")
        }

        @Test func helpMentionsEveryOption() throws {
            let r = try CLI.run(["check", "--help"])
            #expect(r.status == 0, "\(r.summary)")
            for word in ["USAGE: dkimkey check", "<selector>", "--domain", "--key", "--keys-dir", "--nameserver",
                         "--timeout", "--json", "Exit 0"] {
                #expect(r.stdoutText.contains(word), "missing \(word) in: \(r.stdoutText)")
            }
        }
    }
}

// MARK: - The records published in dnsmasq

/// Keys made by `dkimkey generate` and records pasted from them into a dnsmasq on loopback, as a
/// mail admin would (right, truncated, quoted, the wrong key, under a doubled name).
struct PublishedRecords: Sendable {
    var directory: String
    var keysDir: String
    var port: UInt16
    /// The `good` key's file and one-line record.
    var goodKey: String
    var goodRecord: String
    /// How many strings the 4096-bit `big` record was published as.
    var bigStrings: Int

    @TaskLocal static var current: PublishedRecords?

    static func shared() throws -> PublishedRecords {
        try #require(current, "the suite needs the .publishedRecords trait")
    }

    /// Runs `dkimkey generate` and returns its one-line record.
    static func generate(_ selector: String, keysDir: String, extra: [String] = []) throws -> String {
        let r = try CLI.run(["generate", selector, "--domain", "example.com", "--keys-dir", keysDir] + extra)
        try #require(r.status == 0, "generate failed: \(r.summary)")
        return String(try #require(r.stdoutText.split(separator: "\n").first { $0.hasPrefix("v=DKIM1;") }))
    }

    /// Bytes in strings of at most 255 (RFC 1035 §3.3), for dnsmasq's comma-separated list.
    static func strings255(_ text: String) -> [String] {
        let bytes = Array(text.utf8)
        return stride(from: 0, to: bytes.count, by: 255).map {
            String(decoding: bytes[$0..<min($0 + 255, bytes.count)], as: UTF8.self)
        }
    }

    static func make(in directory: String, body: (PublishedRecords) async throws -> Void) async throws {
        let keysDir = directory + "/keys"
        let good = try generate("good", keysDir: keysDir)
        let big = try generate("big", keysDir: keysDir, extra: ["--bits", "4096"])
        let stranger = try generate("stranger", keysDir: keysDir)
        // The .txt zone line's quoted strings, pasted as they are.
        let zoneLine = String(decoding: try CLI.read(keysDir + "/example.com/good.txt"), as: UTF8.self)
        let zoneStrings = GenerateTests.quotedStrings(zoneLine)
        try #require(zoneStrings.joined() == good && zoneStrings.count == 2, "\(zoneLine)")
        let bigStrings = strings255(big)
        // The zone strings pasted with their quotes into one panel value (stored as 255-byte strings).
        let quoted = zoneStrings.map { "\"\($0)\"" }.joined(separator: " ")
        let records: [(String, [String])] = [
            ("good._domainkey.example.com", zoneStrings),
            ("big._domainkey.example.com", bigStrings),
            ("cut._domainkey.example.com", [zoneStrings[0]]),
            ("quoted._domainkey.example.com", strings255(quoted)),
            ("stranger._domainkey.example.com", strings255(stranger)),
            ("panel._domainkey.example.com.example.com", zoneStrings),
        ]
        for (_, strings) in records {
            try #require(strings.allSatisfy { !$0.contains(",") && $0.utf8.count <= 255 })
        }
        // dnsmasq keeps quote characters literally; strings are comma separated, as given here.
        let arguments = ["--local=/example.com/"]
            + records.map { "--txt-record=\($0.0)," + $0.1.joined(separator: ",") }
        let server = try ZoneServer.start(dnsmasqArguments: arguments, directory: directory)
        defer { server.stop() }
        try await body(PublishedRecords(directory: directory, keysDir: keysDir, port: server.port,
                                        goodKey: keysDir + "/example.com/good.pem", goodRecord: good,
                                        bigStrings: bigStrings.count))
    }
}

struct PublishedRecordsTrait: SuiteTrait, TestScoping {
    func provideScope(for test: Test, testCase: Test.Case?,
                      performing function: @Sendable () async throws -> Void) async throws {
        let directory = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(directory) }
        try await PublishedRecords.make(in: directory) { records in
            try await PublishedRecords.$current.withValue(records) { try await function() }
        }
    }
}

extension Trait where Self == PublishedRecordsTrait {
    /// Keys and records published once in a dnsmasq on loopback, for the whole suite.
    static var publishedRecords: Self { Self() }
}

