internal import COpenSSL
import DKIM

/// Incremental SHA-256 through OpenSSL's EVP digest API.
public struct SHA256Digest: IncrementalDigest {
    private final class Context {
        let pointer: OpaquePointer
        init() {
            pointer = EVP_MD_CTX_new()!
            EVP_DigestInit_ex(pointer, EVP_sha256(), nil)
        }
        deinit { EVP_MD_CTX_free(pointer) }
    }

    private let context = Context()

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        EVP_DigestUpdate(context.pointer, base, bytes.count)
    }

    public mutating func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context.pointer, &out, &length)
        return Array(out.prefix(Int(length)))
    }

    /// The SHA-256 digest of some bytes.
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var d = SHA256Digest()
        d.update(bytes)
        return d.finalize()
    }
}
