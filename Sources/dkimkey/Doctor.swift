import ArgumentParser
import DKIMDNS
import DKIMKeyTool
import DKIMPolicy
import Dispatch
import Foundation

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Will Gmail, Yahoo and Microsoft accept mail from DOMAIN? DKIM, DMARC and SPF checked together.",
        discussion: """
            One line per finding (OK, WARN or FAIL) with the fix in plain words, and the record to publish \
            where one is missing: every key of DOMAIN in the key store (and its parent domains' folders) and \
            those named with --selector, judged as dkimkey check does, with size, type and age; the DMARC \
            policy found by the RFC 9989 tree walk, its tags, and whether the keys' d= align with DOMAIN; the \
            SPF record, its lookups as a tree (at most 10, 2 void), and whether it authorizes the relay \
            (--relay, or Postfix's relayhost with --postfix-config); then a table for the big receivers. \
            Bounded: at most \(DKIMPolicy.Doctor.Budgets.total) DNS lookups and --time-limit seconds in all. \
            Exit 0 when nothing failed, 1 otherwise, 2 on usage or I/O errors.
            """)

    @Argument(help: "The domain you send as (the From domain, e.g. example.com).")
    var domain: String

    @Option(help: "The key store directory: keys at KEYS-DIR/DOMAIN/SELECTOR.pem.")
    var keysDir: String = "Keys"

    @Option(help: "A selector to check besides those in the key store (repeatable).")
    var selector: [String] = []

    @Option(help: "The relay your mail leaves through: HOST, HOST:PORT, [HOST]:PORT or an address.")
    var relay: String?

    @Option(help: "Read the relay from Postfix's relayhost in this configuration directory (e.g. /etc/postfix).")
    var postfixConfig: String?

    @Option(help: "Ask this DNS server (IP or IP:PORT; IPv6 as [IP]:PORT) instead of those in /etc/resolv.conf.")
    var nameserver: String?

    @Option(help: "Seconds to wait for each DNS answer (each query is sent twice).")
    var timeout: Int = 5

    @Option(help: "Seconds the whole run may take; what is not known by then is reported as temperror.")
    var timeLimit: Int = 60

    @Flag(help: "One JSON object: domain, passed, queries, findings, receivers.")
    var json = false

    @Option(help: ArgumentHelp("Judge key ages as of this time (seconds since 1970).", visibility: .hidden))
    var now: Int?

    func validate() throws {
        guard (1...300).contains(timeout) else { throw ValidationError("--timeout must be from 1 to 300 seconds") }
        guard (1...3600).contains(timeLimit) else {
            throw ValidationError("--time-limit must be from 1 to 3600 seconds")
        }
        guard relay == nil || postfixConfig == nil else {
            throw ValidationError("give either --relay or --postfix-config, not both")
        }
        if let relay, RelayHost(parsing: relay) == nil {
            throw ValidationError("--relay \(relay) is not HOST, HOST:PORT, [HOST]:PORT or an address")
        }
    }

    func run() throws {
        var relays: [RelayHost] = []
        var source = "--relay"
        if let relay, let host = RelayHost(parsing: relay) { relays = [host] }
        if let postfixConfig {
            relays = try PostfixRelayhost.read(configDirectory: postfixConfig)
            source = "relayhost in \(postfixConfig)/main.cf"
        }
        let client: DNSClient
        do {
            client = try DNSClient(nameserver: nameserver, timeout: timeout, tries: 2)
        } catch {
            throw ToolError("--nameserver: \(error.reason)")
        }
        let resolver = CachingDNSResolver(client: client, deadline: .now() + .seconds(timeLimit))
        let server = nameserver.map { "the DNS server \($0)" } ?? "the DNS servers of /etc/resolv.conf"
        let report = try DoctorRun(domain: domain, keysDirectory: keysDir, selectors: selector, relays: relays,
                                   relaySource: source, resolver: resolver, server: server,
                                   now: now.map(Double.init) ?? Date().timeIntervalSince1970).run()
        Output.line(json ? report.json() : report.text(server: nameserver ?? "/etc/resolv.conf"))
        if !report.passed { throw ExitCode(1) }
    }
}
