import DKIM

/// A shared secret that signs DNS messages with TSIG (RFC 8945): the key's name, as the server's
/// `key` statement names it, its algorithm and the secret bytes.
///
/// The secret never leaves the value except into the MAC: `description`, `debugDescription`
/// and the mirror that `dump` and the debugger show give the name, the algorithm and the
/// secret's length only, so a key can be logged or printed without revealing it.
public struct TSIGKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The key's name: the name in the server's `key "NAME" { … };` and in each TSIG record.
    public let name: DNSName
    public let algorithm: TSIGAlgorithm
    /// The secret, the bytes of the base64 in the key file. Internal: only the signer reads it.
    let secret: [UInt8]

    /// A key from its parts. The name must be a valid domain name (RFC 8945 §4.2: the key
    /// name is the TSIG record's owner); the secret must not be empty; `algorithm` must be
    /// hmac-sha256.
    public init(name: String, algorithm: String = TSIGAlgorithm.hmacSHA256.rawValue,
                secret: [UInt8]) throws(DKIMError) {
        guard let dnsName = DNSName(name), !dnsName.labels.isEmpty else {
            throw DKIMError(.tsigKey, "the TSIG key name \"\(name)\" is not a domain name (RFC 8945 §4.2); "
                            + "use a name such as dkim-rotate or dkim-rotate.example.com")
        }
        guard !secret.isEmpty else {
            throw DKIMError(.tsigKey, "the TSIG key \(name) has an empty secret; make one with tsig-keygen")
        }
        self.name = dnsName
        self.algorithm = try TSIGAlgorithm(named: algorithm)
        self.secret = secret
    }

    /// The key in a BIND key file, as `tsig-keygen` writes it and `named.conf` includes it:
    /// `key "NAME" { algorithm hmac-sha256; secret "BASE64"; };` (comments allowed).
    ///
    /// The file must be a regular file that neither its group nor others may read or write
    /// (mode 0600 or 0400): a key anyone else can read lets them change the zone. A missing,
    /// unsafe or malformed file throws `.tsigKey` with a reason that names the path, what is
    /// wrong and where, and the fix; no reason ever quotes the secret.
    public static func load(bindKeyFile path: String) throws(DKIMError) -> TSIGKey {
        try BINDKeyFile.load(path: path)
    }

    /// The secret's length in bytes (the secret itself is not readable).
    public var secretByteCount: Int { secret.count }

    public var description: String {
        "TSIG key \(name) (\(algorithm), \(secret.count)-byte secret not shown)"
    }

    public var debugDescription: String {
        "TSIGKey(name: \(name), algorithm: \(algorithm), secret: \(secret.count) bytes, not shown)"
    }

    public var customMirror: Mirror {
        Mirror(self, children: ["name": name, "algorithm": algorithm, "secret": "\(secret.count) bytes, not shown"])
    }
}
