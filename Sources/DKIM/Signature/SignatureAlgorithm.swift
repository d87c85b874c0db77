/// The `a=` algorithms this implementation signs and verifies.
///
/// RFC 8301 §3.1 removed rsa-sha1: it is recognised only to be refused.
public enum SignatureAlgorithm: String, Sendable, CaseIterable, Hashable {
    case rsaSHA256 = "rsa-sha256"
    case ed25519SHA256 = "ed25519-sha256"

    /// The key type the algorithm needs.
    public var keyType: KeyRecord.KeyType {
        switch self {
        case .rsaSHA256: .rsa
        case .ed25519SHA256: .ed25519
        }
    }

    /// The hash name as it appears in a key record's `h=` (RFC 6376 §3.6.1).
    public var hashName: String { "sha256" }

    /// The algorithm that signs with a key of the given type.
    public init(keyType: KeyRecord.KeyType) {
        switch keyType {
        case .rsa: self = .rsaSHA256
        case .ed25519: self = .ed25519SHA256
        }
    }
}
