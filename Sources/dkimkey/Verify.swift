import ArgumentParser
import DKIM
import DKIMDNS
import DKIMKeyTool
import DKIMOpenSSL
import Foundation

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify and explain every DKIM signature of saved messages.",
        discussion: """
            Reports each signature (1 = topmost): d=, s=, algorithm, result in RFC 8601 words \
            (pass fail neutral policy temperror permerror; none when unsigned), the reason, and whether \
            a passing signature is aligned with the From domain (DMARC relaxed alignment). \
            Exit 0 when every file has a passing signature, 1 otherwise, 2 on usage or I/O errors.
            """)

    @Option(help: """
        Take keys from this file instead of DNS: NAME<TAB>RECORD lines (NAME is \
        selector._domainkey.domain; !TEMPFAIL fails temporarily; unlisted names do not exist).
        """)
    var records: String?

    @Option(help: "Ask this DNS server (IPv4, IP or IP:PORT) instead of the ones in /etc/resolv.conf.")
    var nameserver: String?

    @Option(help: "Seconds to wait for each DNS answer.")
    var timeout: Int = 5

    @Flag(help: "One JSON object per file per line.")
    var json = false

    @Flag(help: "For signatures that do not pass: what failed, and likely culprits found by re-hashing.")
    var explain = false

    @Option(help: "Check at most this many signatures per message.")
    var maxSignatures: Int = 32

    @Option(help: ArgumentHelp("Verify as of this time (seconds since 1970) instead of now.", visibility: .hidden))
    var now: Int?

    @Argument(help: "The message files (regular files); - reads one message from standard input.")
    var files: [String]

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one message file") }
        guard files.filter({ $0 == FileAccess.standardInputName }).count <= 1 else {
            throw ValidationError("give - (standard input) at most once")
        }
        guard maxSignatures > 0 else { throw ValidationError("--max-signatures must be at least 1") }
        guard (1...300).contains(timeout) else { throw ValidationError("--timeout must be from 1 to 300 seconds") }
        guard records == nil || nameserver == nil else {
            throw ValidationError("--records and --nameserver exclude each other")
        }
    }

    func run() throws {
        let resolver: any TXTResolver
        if let records {
            let text = try FileAccess.readText(records, what: "the records file")
            do {
                resolver = try StaticTXTResolver(parsingRecordsFile: text)
            } catch {
                throw ToolError("the records file \(records): \(error.reason)")
            }
        } else {
            do {
                resolver = CachingTXTResolver(upstream: try DNSClient(nameserver: nameserver, timeout: timeout,
                                                                      tries: 2))
            } catch {
                throw ToolError("--nameserver: \(error.reason)")
            }
        }
        let verifier = DKIMVerifier(configuration: VerifierConfiguration(maximumSignatures: maxSignatures),
                                    resolver: resolver, crypto: OpenSSLCryptoProvider())
        let suffixes = PublicSuffixes.load()
        let time = now ?? Int(Date().timeIntervalSince1970)
        var allPass = true
        var ioError = false
        for file in files {
            switch Self.report(file: file, verifier: verifier, now: time, suffixes: suffixes, explain: explain) {
            case .success(let report):
                Output.line(json ? report.json() : report.text())
                allPass = allPass && report.hasPass
            case .failure(let error):
                Output.error("dkimkey: \(error.message)")
                ioError = true
            }
        }
        if ioError { throw ExitCode(2) }
        if !allPass { throw ExitCode(1) }
    }
}

extension Verify {
    static func report(file: String, verifier: DKIMVerifier, now: Int, suffixes: PublicSuffixList,
                       explain: Bool) -> Result<MessageReport, ToolError> {
        Result { () throws(ToolError) -> MessageReport in
            let message = try FileAccess.read(file, what: "the message", allowsStandardInput: true)
            return try MessageReport.make(file: file, message: message, verifier: verifier, now: now,
                                          suffixes: suffixes, explain: explain)
        }
    }
}

enum PublicSuffixes {
    static func load() -> PublicSuffixList {
        let path = "/usr/share/publicsuffix/public_suffix_list.dat"
        guard let data = FileManager.default.contents(atPath: path) else { return .minimal }
        return PublicSuffixList(parsing: String(decoding: data, as: UTF8.self))
    }
}
