import DKIM
import Dispatch

/// Everything a message's session needs from the running configuration; immutable, shared by
/// all connections. A reload (or a key switch) builds a new one; each message takes the current
/// one at MAIL FROM, so connections Postfix keeps open get it too.
public final class MilterPolicy: Sendable {
    public let configuration: MilterConfiguration
    public let keys: KeyStore
    /// Keys looked up per author (datasets: `KeyTable dsn:…`); nil: `keys` holds them all.
    public let lazyKeys: LazyKeyStore?
    /// Where a message's keys come from.
    public var keySource: any SigningKeySource { lazyKeys ?? keys }
    public let resolver: any TXTResolver
    /// Where the published-key guard reads our own keys' records: past the cache, so that a
    /// record just published (or withdrawn) is seen at the next check.
    public let keyRecordResolver: any TXTResolver
    public let crypto: any DKIMCryptoProvider
    public let authservID: String
    /// The clock, seconds since the epoch (injected so tests can pin it).
    public let now: @Sendable () -> Int
    /// A monotonic clock in nanoseconds, for the timings of outcomes.
    public let clock: @Sendable () -> UInt64

    public init(configuration: MilterConfiguration, keys: KeyStore, lazyKeys: LazyKeyStore? = nil,
                resolver: any TXTResolver,
                keyRecordResolver: (any TXTResolver)? = nil, crypto: any DKIMCryptoProvider, authservID: String,
                now: @escaping @Sendable () -> Int,
                clock: @escaping @Sendable () -> UInt64 = { DispatchTime.now().uptimeNanoseconds }) {
        self.configuration = configuration
        self.keys = keys
        self.lazyKeys = lazyKeys
        self.resolver = resolver
        self.keyRecordResolver = keyRecordResolver ?? resolver
        self.crypto = crypto
        self.authservID = authservID
        self.now = now
        self.clock = clock
    }

    /// The same policy with other keys (what the published-key guard learned, or a new key store).
    public func with(keys: KeyStore) -> MilterPolicy {
        MilterPolicy(configuration: configuration, keys: keys, lazyKeys: lazyKeys, resolver: resolver,
                     keyRecordResolver: keyRecordResolver,
                     crypto: crypto, authservID: authservID, now: now, clock: clock)
    }

    var verifierConfiguration: VerifierConfiguration {
        VerifierConfiguration(maximumSignatures: configuration.maximumSignaturesToVerify,
                              minimumRSAKeyBits: configuration.minimumKeyBits)
    }
}
