import DKIM

/// Turns the text of a key file into a signing key. The core parses no key itself: the adapter
/// passes OpenSSL's provider (`DKIMMilter`), so this target needs no C library.
public protocol PrivateKeyLoader: Sendable {
    /// A PEM private key (RSA or Ed25519), or a base64 Ed25519 seed.
    func signingKey(pemOrSeed text: String) throws(DKIMError) -> any DKIMSigningKey
}
