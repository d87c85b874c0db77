import DKIM
import DKIMTestSupport
import Foundation
import Testing
@testable import DKIMDNS

/// BIND's key file format (`tsig-keygen`'s output, named.conf's key statement): what is read,
/// what is refused and how the refusal reads; and that no text made from a key shows its secret.
@Suite struct TSIGKeyTests {
    /// A test-only secret (base64 of 32 bytes); every message is checked not to hold it.
    static let secret = "tDF5qVpXTW43w9rS1Cm8XrDfu7Af8+zELTg9sFQMHFg="

    static func withFile<R>(_ text: String, mode: mode_t = 0o600,
                            _ body: (String) throws -> R) throws -> R {
        let directory = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(directory) }
        let path = directory + "/rotate.key"
        try writeFile(text, to: path, mode: mode)
        return try body(path)
    }

    @Test func readsTheFileTsigKeygenWrites() throws {
        let made = try ProcessRunner.run(BINDServer.tsigKeygen, ["-a", "hmac-sha256", "dkim-rotate.example.test"])
        try #require(made.status == 0, "\(made.stderr)")
        let secret = try #require(BINDServer.secret(in: made.stdoutText))
        let key = try Self.withFile(made.stdoutText) { path in try TSIGKey.load(bindKeyFile: path) }
        #expect(key.name == DNSName("dkim-rotate.example.test"))
        #expect(key.algorithm == .hmacSHA256)
        #expect(key.secret == Base64.decode(secret))
        #expect(key.secretByteCount == 32)
    }

    @Test func readsCommentsUnquotedNamesAndAnyLayout() throws {
        let text = """
            # made for the tests
            /* a block
               comment */ key dkim-rotate { // the name unquoted
            \talgorithm "HMAC-SHA256" ;secret
              "\(Self.secret)";}
            ;
            """
        let key = try Self.withFile(text) { path in try TSIGKey.load(bindKeyFile: path) }
        #expect(key.name == DNSName("dkim-rotate"))
        #expect(key.secret == Base64.decode(Self.secret))
    }

    @Test(arguments: [0o644, 0o640, 0o604, 0o660, 0o602] as [mode_t])
    func refusesAFileItsGroupOrOthersMayRead(mode: mode_t) throws {
        let text = "key \"dkim-rotate\" { algorithm hmac-sha256; secret \"\(Self.secret)\"; };\n"
        try Self.withFile(text, mode: mode) { path in
            let error = expectDKIMError(.tsigKey) { _ = try TSIGKey.load(bindKeyFile: path) }
            let reason = error?.reason ?? ""
            #expect(reason.contains(path) && reason.contains("chmod 600 \(path)")
                    && reason.contains("mode \(String(mode, radix: 8))"), "\(reason)")
            #expect(!reason.contains(Self.secret))
        }
    }

    @Test func refusesAMissingFileNamingItAndHowToMakeIt() throws {
        let error = expectDKIMError(.tsigKey) {
            _ = try TSIGKey.load(bindKeyFile: "/nonexistent/rotate.key")
        }
        #expect(error?.reason.contains("/nonexistent/rotate.key does not exist") == true, "\(error?.reason ?? "")")
        #expect(error?.reason.contains("tsig-keygen -a hmac-sha256") == true)
    }

    /// Each malformed file is refused with the line and column and what is wrong, never the secret.
    @Test(arguments: [
        ("key \"k\" {\n  algorithm hmac-sha256\n  secret \"S\";\n};\n",
         ":3:3: expected ';' after the algorithm, found 'secret'"),
        ("key \"k\" {\n  algorithm hmac-sha256;\n};\n", ":1:1: the key statement has no secret"),
        ("key \"k\" { secret \"S\"; };\n", ":1:1: the key statement has no algorithm"),
        ("key \"k\" {\n  algorithm hmac-sha256;\n  secret \"not*base64\";\n};\n",
         ":3:10: the secret is not valid base64"),
        ("key \"k\" {\n  algorithm hmac-md5;\n  secret \"S\";\n};\n",
         ":2:13: the TSIG key uses algorithm hmac-md5; hmac-sha256 is needed"),
        ("key \"k\" { algorithm hmac-sha256; secret \"S", ":1:41: a quoted string is not closed"),
        ("key \"k\" { algorithm hmac-sha256; secret \"S\";\n}",
         ":2:1: the file ends where ';' after the key statement"),
        ("S\n",
         ":1:1: expected a key statement: key \"NAME\" { algorithm hmac-sha256; secret \"…\"; }; found a word"),
        ("\"S\";\n", ":1:1: expected a key statement"),
        ("key \"k\" { algorithm hmac-sha256; secret \"S\";\n  owner \"S\"; };",
         ":2:3: expected 'algorithm', 'secret' or '}' in the key statement, found 'owner'"),
        ("key \"k\" { algorithm hmac-sha256; secret \"S\";\n  secret \"S\"; };",
         ":2:3: the key statement gives its secret twice"),
        ("key \"a\" { algorithm hmac-sha256; secret \"S\"; };\nkey \"b\" { algorithm hmac-sha256; secret \"S\"; };\n",
         ": the file holds 2 keys (a, b); give a file with the one key to use"),
        ("// nothing but a comment\n", ": the file holds no key"),
        ("/* never closed\n", ":1:1: a comment opened with /* is not closed"),
        ("key \"a..b\" { algorithm hmac-sha256; secret \"S\"; };",
         ":1:5: the TSIG key name \"a..b\" is not a domain name"),
    ])
    func saysWhatIsWrongAndWhereWithoutTheSecret(template: String, expected: String) throws {
        let text = template.replacingOccurrences(of: "\"S", with: "\"" + Self.secret)
            .replacingOccurrences(of: "S\n", with: Self.secret + "\n")
        try Self.withFile(text) { path in
            let error = expectDKIMError(.tsigKey) { _ = try TSIGKey.load(bindKeyFile: path) }
            let reason = error?.reason ?? ""
            #expect(reason.hasPrefix("the TSIG key file \(path)\(expected)"), "\(reason)")
            #expect(!reason.contains(Self.secret) && !reason.contains("tDF5"), "\(reason)")
        }
    }

    @Test func refusesAnAlgorithmOtherThanHMACSHA256() {
        let error = expectDKIMError(.tsigKey) {
            _ = try TSIGKey(name: "k", algorithm: "hmac-sha512", secret: [1, 2, 3])
        }
        #expect(error?.reason.contains("algorithm hmac-sha512; hmac-sha256 is needed") == true)
    }

    @Test func printsNoSecretInAnyDescription() throws {
        let key = try TSIGKey(name: "dkim-rotate", secret: Base64.decode(Self.secret)!)
        var dumped = ""
        dump(key, to: &dumped)
        let texts = [key.description, key.debugDescription, "\(key)", String(reflecting: key), dumped,
                     String(describing: Mirror(reflecting: key).children.map { "\($0.label ?? ""): \($0.value)" })]
        let secretBytes = key.secret.map { String($0) }.joined(separator: ", ")
        for text in texts {
            #expect(text.contains("dkim-rotate") && text.contains("32"), "\(text)")
            #expect(!text.contains(Self.secret) && !text.contains(secretBytes), "\(text)")
        }
    }
}
