import ArgumentParser
import DKIMDNS
import DKIMKeyTool

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the key record published in DNS against the private key on disk.",
        discussion: """
            Looks up the TXT record at SELECTOR._domainkey.DOMAIN and reports, one line per check \
            (OK, WARN or FAIL, with the fix): whether the record exists (and, if not, whether a DNS \
            panel put it at a wrong name), several records at the name, quotes or backslashes pasted \
            into the value, syntax errors, a truncated p=, a p= of another type than k=, t=y still \
            set, the key type and size, and whether the published key matches the private key. \
            Exit 0 when the published key matches and nothing failed, 1 otherwise (also when the \
            DNS server did not answer), 2 on usage or I/O errors.
            """)

    @Argument(help: "The selector: the name of the key under _domainkey (e.g. mail2026).")
    var selector: String

    @Option(help: "The signing domain (e.g. example.com).")
    var domain: String

    @Option(help: "The private key to compare with (default: KEYS-DIR/DOMAIN/SELECTOR.pem).")
    var key: String?

    @Option(help: "The key store directory (default: Keys).")
    var keysDir: String?

    @Option(help: "Ask this DNS server (IPv4, optionally :PORT) instead of those in /etc/resolv.conf.")
    var nameserver: String?

    @Option(help: "Seconds to wait for each DNS answer (the query is sent twice).")
    var timeout: Int = 5

    @Flag(help: "One JSON object: name, found, record, checks (check, status, message), matches.")
    var json = false

    func validate() throws {
        guard timeout >= 1 else { throw ValidationError("--timeout must be at least 1 second") }
        guard key == nil || keysDir == nil else {
            throw ValidationError("give either --key or --keys-dir, not both")
        }
    }

    func run() throws {
        let resolver: DNSClient
        do {
            resolver = try DNSClient(nameserver: nameserver, timeout: timeout, tries: 2)
        } catch {
            throw ToolError("--nameserver: \(error.reason)")
        }
        let server = nameserver.map { "the DNS server \($0)" } ?? "the DNS server (from /etc/resolv.conf)"
        let report = try KeyCheck.run(selector: selector, domain: domain, keyPath: key,
                                      keysDirectory: keysDir ?? "Keys", resolver: resolver, server: server)
        Output.line(json ? report.json() : report.text())
        if !report.passed { throw ExitCode(1) }
    }
}
