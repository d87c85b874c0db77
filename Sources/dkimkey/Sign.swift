import ArgumentParser
import DKIM
import DKIMKeyTool
import Foundation

extension SignatureAlgorithm: ExpressibleByArgument {}

struct Sign: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sign a message; write it with the new DKIM-Signature on top to standard output.",
        discussion: """
            Every other byte of the message is written unchanged. Files with bare LF line endings \
            are signed as if each LF were CRLF, and the signature is written with LF.
            """)

    @Option(help: "The private key: PEM (PKCS#1 or PKCS#8) or a base64 Ed25519 seed.")
    var key: String

    @Option(help: "The signing domain (d=).")
    var domain: String

    @Option(help: "The selector (s=).")
    var selector: String

    @Option(help: "rsa-sha256 or ed25519-sha256; by default the one the key's type makes.")
    var algorithm: SignatureAlgorithm?

    @Option(help: "Header/body canonicalization (c=): simple or relaxed, e.g. relaxed/relaxed.")
    var canonicalization: String = "relaxed/relaxed"

    @Option(help: """
        The exact h= list, colon separated; repeats and absent names over-sign. \
        Default: the RFC 6376 §5.4.1 fields present, with From, Subject, Date, To, Cc, Reply-To, \
        Message-ID, Content-Type and MIME-Version over-signed.
        """)
    var headers: String?

    @Flag(help: "Add l= with the body length (not recommended: it lets others append content).")
    var bodyLength = false

    @Option(help: "t=, seconds since 1970 (default: now).")
    var timestamp: Int?

    @Option(help: "x=, seconds since 1970, after which the signature expires.")
    var expiration: Int?

    @Option(help: "i=, the agent or user identifier (must be in the signing domain).")
    var identity: String?

    @Flag(help: """
        Copy the signed header fields into z= (RFC 6376 §3.5), so that dkimkey verify --explain can name \
        the field a relay changed and show its old and new value. Makes the signature larger.
        """)
    var copyHeaders = false

    @Argument(help: "The message file (a regular file), or - to read standard input.")
    var file: String

    func validate() throws {
        guard CanonicalizationPair(tagValue: canonicalization.lowercased()) != nil else {
            throw ValidationError("--canonicalization must be simple or relaxed, or a pair such as relaxed/simple")
        }
        if let h = headers {
            let names = h.split(separator: ":", omittingEmptySubsequences: false)
            guard !names.contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) else {
                throw ValidationError("--headers contains an empty name: write names separated by single colons")
            }
            guard names.contains(where: { $0.lowercased() == "from" }) else {
                throw ValidationError("--headers must include from (RFC 6376 §5.4)")
            }
        }
    }

    func run() throws {
        let privateKey = try KeyFile.load(key)
        let message = try FileAccess.read(file, what: "the message", allowsStandardInput: true)
        let time = timestamp ?? Int(Date().timeIntervalSince1970)
        if let x = expiration, x <= time {
            throw ToolError("--expiration \(x) must be later than the timestamp \(time)")
        }
        let configuration = SignerConfiguration(
            domain: domain, selector: selector, algorithm: algorithm,
            canonicalization: CanonicalizationPair(tagValue: canonicalization.lowercased())!,
            signedHeaderNames: headers.map { $0.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) } },
            includesBodyLength: bodyLength, timestamp: time, expiration: expiration, identity: identity,
            copiesHeaderFields: copyHeaders)
        Output.bytes(try MessageSigning.sign(message: message, configuration: configuration, key: privateKey))
    }
}
