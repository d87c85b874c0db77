import ArgumentParser
import DKIM
import DKIMDNS
import DKIMKeyTool
import Foundation

struct Rotate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rotate the keys of the file key store: new keys published before they sign, old ones revoked.",
        discussion: """
            Each run moves every key of DOMAIN one step: a key older than --max-age (or none) gets a \
            successor with a dated selector, pending until DNS serves its record; a pending key whose \
            record is served becomes active (dkim-milter switches to it by itself); the key it replaces \
            stays published for --overlap, then gets the revoked record v=DKIM1; p= and leaves the \
            signing set; after another --overlap its record is deleted. States are kept in \
            KEYS-DIR/DOMAIN/keys.state. Run it daily (contrib/systemd/dkimkey-rotate.timer). \
            Exit codes: 0 nothing to do, 1 something for you to do (printed), 2 an error.
            """)

    @Option(help: "The domain whose keys rotate (with --status: only this one).") var domain: String?
    @Option(help: "Key types: rsa, ed25519 or both.") var type = "rsa"
    @Option(help: "The key store directory.") var keysDir = "Keys"
    @Option(help: "How long a replaced key stays published, and a revoked one revoked (e.g. 7d).") var overlap = "7d"
    @Option(help: "Keys older than this are replaced (e.g. 180d).") var maxAge = "180d"
    @Option(help: "strftime format of new selectors, in UTC.") var selectorFormat = "s%Y%m"
    @Option(help: "RSA key size of new keys.") var bits = 2048
    @Option(help: "Copy retired private keys here (to publish them: old mail becomes deniable).") var reveal: String?
    @Option(help: "Publish records: nsupdate (RFC 2136 with --server and --tsig-key).") var publish: String?
    @Option(help: "With --publish nsupdate: the primary DNS server of the zone, IP or IP:PORT.") var server: String?
    @Option(help: "With --publish nsupdate: the TSIG key file (BIND's format, hmac-sha256, mode 0600).")
    var tsigKey: String?
    @Option(help: "Publish records by running CMD publish|revoke|delete NAME VALUE.") var publishCommand: String?
    @Option(help: "Ask this DNS server (IP or IP:PORT) for the records.") var nameserver: String?
    @Option(help: ArgumentHelp("The time to act at, seconds since the epoch (tests).", visibility: .hidden))
    var now: Int?
    @Flag(help: "Show every key of every domain, its state, age and what happens next; change nothing.")
    var status = false
    @Flag(help: "One JSON object per domain per line.") var json = false

    func validate() throws {
        guard ["rsa", "ed25519", "both"].contains(type) else { throw ValidationError("--type: rsa, ed25519 or both") }
        guard DurationText.seconds(overlap) != nil else { throw ValidationError("--overlap: a duration such as 7d") }
        guard DurationText.seconds(maxAge) != nil else { throw ValidationError("--max-age: a duration such as 180d") }
        guard status || domain != nil else { throw ValidationError("--domain is needed (or --status)") }
        if let publish {
            guard publish == "nsupdate" else { throw ValidationError("--publish: nsupdate (or use --publish-command)") }
            guard server != nil, tsigKey != nil else {
                throw ValidationError("--publish nsupdate needs --server IP[:PORT] and --tsig-key FILE")
            }
            guard publishCommand == nil else { throw ValidationError("give --publish or --publish-command, not both") }
        }
    }

    func run() throws {
        var options = KeyRotation.Options()
        options.types = type == "both" ? [.rsa, .ed25519] : type == "ed25519" ? [.ed25519] : [.rsa]
        options.overlap = Int(DurationText.seconds(overlap) ?? 0)
        options.maxAge = Int(DurationText.seconds(maxAge) ?? 0)
        options.selectorFormat = selectorFormat
        options.rsaBits = bits
        options.revealDirectory = reveal
        let dns: DNSClient
        do {
            dns = try DNSClient(nameserver: nameserver, timeout: 5, tries: 2)
        } catch {
            throw ToolError("--nameserver: \(error.reason)")
        }
        var publisher: (any RecordPublisher)? = publishCommand.map { CommandPublisher(command: $0) }
        if publish == "nsupdate", let server, let tsigKey, !status {
            publisher = try DNSUpdatePublisher(server: server, tsigKeyFile: tsigKey)
        }
        let domains = domain.map { [$0] } ?? ((try? FileManager.default.contentsOfDirectory(atPath: keysDir)) ?? [])
            .filter { $0.contains(".") && !$0.hasPrefix(".") }.sorted()
        var actionNeeded = false
        for d in domains {
            let rotation = KeyRotation(domain: d, keysDirectory: keysDir, options: options,
                                       now: now ?? Int(Date().timeIntervalSince1970),
                                       lookup: { dns.lookupTXT($0) }, publisher: publisher)
            let lines = status ? try rotation.status() : try rotation.run()
            actionNeeded = actionNeeded || lines.contains { $0.actionNeeded }
            if json {
                struct Object: Encodable { var domain: String; var keys: [KeyRotation.Line] }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                Output.line(String(decoding: try encoder.encode(Object(domain: d, keys: lines)), as: UTF8.self))
            } else {
                Output.line("\(d):" + (lines.isEmpty ? " nothing to do" : ""))
                for l in lines {
                    Output.line("  \(l.actionNeeded ? "TODO" : "    ") \(l.selector) (\(l.state)): \(l.text)")
                }
            }
        }
        if actionNeeded { throw ExitCode(1) }
    }
}
