import ArgumentParser
import DKIM
import DKIMKeyTool

extension KeyRecord.KeyType: ExpressibleByArgument {}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a key pair and the DNS TXT record to publish.",
        discussion: """
            Writes KEYS-DIR/DOMAIN/SELECTOR.pem (the private key, PKCS#8, mode 0600) and \
            KEYS-DIR/DOMAIN/SELECTOR.txt (the zone-file line), and prints the record to publish \
            at SELECTOR._domainkey.DOMAIN. An existing key is never replaced without --force.
            """)

    @Argument(help: "The selector: the name of this key under _domainkey (e.g. mail2026).")
    var selector: String

    @Option(help: "The domain that signs (the From domain of your mail, e.g. example.com).")
    var domain: String

    @Option(help: "Key type: rsa or ed25519. RSA is what every receiver verifies today.")
    var type: KeyRecord.KeyType = .rsa

    @Option(help: "RSA key size in bits (at least 1024; 2048 recommended).")
    var bits: Int = 2048

    @Option(help: "The key store directory.")
    var keysDir: String = "Keys"

    @Flag(help: "Replace an existing key of the same selector.")
    var force = false

    func run() throws {
        let generation = KeyGeneration(selector: selector, domain: domain, keyType: type, bits: bits,
                                       keysDirectory: keysDir, overwrite: force)
        let out = try generation.run()
        let size = type == .rsa ? "a \(bits)-bit RSA" : "an Ed25519"
        Output.line("Wrote \(size) private key to \(out.privateKeyPath) (mode 0600: keep it secret)")
        Output.line("and the record to \(out.recordPath).")
        Output.line("")
        Output.line("Publish this TXT record in the DNS zone of \(domain.lowercased()), at the name \(out.queryName):")
        Output.line("")
        Output.line("Zone file line:")
        Output.line(out.zoneLine)
        Output.line("")
        Output.line("For a web DNS panel (type TXT, name \(selector)._domainkey), paste this value as one line:")
        Output.line(out.record.txtValue)
        if type == .ed25519 {
            Output.line("")
            Output.line("Note: not every receiver verifies Ed25519 yet; sign with an RSA key as well.")
        }
    }
}
