import DKIMTestSupport
import Testing

@Suite("dkimkey --help and usage errors")
struct HelpTests {
    @Test func topLevelHelpListsTheCommandsAndExitCodes() throws {
        let r = try CLI.run(["--help"])
        #expect(r.status == 0, "\(r.summary)")
        let out = r.stdoutText
        for word in ["USAGE: dkimkey", "generate", "sign", "verify", "--help", "Exit codes"] {
            #expect(out.contains(word), "missing \(word) in: \(out)")
        }
    }

    @Test(arguments: [
        ("generate", ["<selector>", "--domain", "--type", "--bits", "--keys-dir", "--force", "rsa", "ed25519", "0600"]),
        ("sign", ["--key", "--domain", "--selector", "--algorithm", "--canonicalization", "--headers",
                  "--body-length", "--timestamp", "--expiration", "--identity", "<file>"]),
        ("verify", ["--records", "--json", "--explain", "--max-signatures", "<files>", "Exit 0"]),
    ])
    func subcommandHelpMentionsEveryOption(command: String, words: [String]) throws {
        for arguments in [[command, "--help"], ["help", command]] {
            let r = try CLI.run(arguments)
            #expect(r.status == 0, "\(arguments): \(r.summary)")
            #expect(r.stderr.isEmpty, "\(arguments): \(r.stderr)")
            let out = r.stdoutText
            #expect(out.contains("USAGE: dkimkey \(command)"), "\(out)")
            for word in words {
                #expect(out.contains(word), "\(arguments): missing \(word) in: \(out)")
            }
        }
    }

    @Test(arguments: [
        ["bogus"],
        ["generate"],
        ["generate", "sel", "--domain", "example.com", "--type", "dsa"],
        ["generate", "sel", "--domain", "example.com", "--bits", "many"],
        ["sign", "--domain", "example.com", "--selector", "s", "message.eml"],
        ["verify"],
        ["verify", "--no-such-option", "message.eml"],
        ["verify", "--max-signatures", "0", "message.eml"],
    ])
    func usageErrorsExitTwoWithAHint(arguments: [String]) throws {
        let r = try CLI.run(arguments)
        #expect(r.status == 2, "\(arguments): \(r.summary)")
        #expect(r.stdout.isEmpty, "\(arguments): \(r.stdoutText)")
        #expect(r.stderr.contains("Error:"), "\(arguments): \(r.stderr)")
        #expect(r.stderr.contains("--help"), "\(arguments): \(r.stderr)")
    }
}
