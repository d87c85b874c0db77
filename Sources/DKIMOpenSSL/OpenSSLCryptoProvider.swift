import DKIM
import Foundation

/// The core's cryptography, done by OpenSSL 3.
///
/// Public keys are kept once parsed (OpenSSL 3's decoders cost more than an RSA verification),
/// in a bounded cache shared by every copy of the provider; so are refusals (a key record
/// published to cost CPU costs one decoding, not one per signature).
public struct OpenSSLCryptoProvider: DKIMCryptoProvider {
    private let keys: PublicKeyCache

    public init(cachedKeys: Int = 1000) {
        keys = PublicKeyCache(capacity: cachedKeys)
    }

    public func makeSHA256() -> any IncrementalDigest { SHA256Digest() }

    public func verifyingKey(type: KeyRecord.KeyType,
                             publicKeyData: [UInt8]) throws(DKIMError) -> any DKIMVerifyingKey {
        let result = keys.get(type, publicKeyData) ?? {
            let made = Result { () throws(DKIMError) in try PublicKey(type: type, publicKeyData: publicKeyData) }
            keys.put(type, publicKeyData, made)
            return made
        }()
        return try result.get()
    }
}

/// Parsed public keys, or why the bytes are no usable key, by type and `p=` bytes; at most
/// `capacity`, the whole set dropped when full.
final class PublicKeyCache: @unchecked Sendable {
    private struct Key: Hashable {
        var type: KeyRecord.KeyType
        var data: [UInt8]
    }

    private let lock = NSLock()
    private var entries: [Key: Result<PublicKey, DKIMError>] = [:]
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    func get(_ type: KeyRecord.KeyType, _ data: [UInt8]) -> Result<PublicKey, DKIMError>? {
        lock.lock(); defer { lock.unlock() }
        return entries[Key(type: type, data: data)]
    }

    func put(_ type: KeyRecord.KeyType, _ data: [UInt8], _ key: Result<PublicKey, DKIMError>) {
        guard capacity > 0 else { return }
        lock.lock(); defer { lock.unlock() }
        if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        entries[Key(type: type, data: data)] = key
    }
}
