/// Canonicalizes a body and hashes it, optionally only its first `l=` bytes (RFC 6376 §3.4.5).
public struct BodyHasher {
    private var canonicalizer: BodyCanonicalizer
    private var sink: LimitedDigest

    public init(_ algorithm: Canonicalization, lengthLimit: Int? = nil, digest: any IncrementalDigest) {
        self.canonicalizer = BodyCanonicalizer(algorithm)
        self.sink = LimitedDigest(digest: digest, lengthLimit: lengthLimit)
    }

    /// The `l=` limit, or nil for the whole body.
    public var lengthLimit: Int? { sink.lengthLimit }
    /// Bytes of canonical body seen so far (hashed or not).
    public var canonicalLength: Int { sink.canonicalLength }

    public mutating func update(_ chunk: UnsafeBufferPointer<UInt8>) {
        canonicalizer.canonicalize(chunk, into: &sink)
    }

    public mutating func update(_ chunk: [UInt8]) {
        chunk.withUnsafeBufferPointer { update($0) }
    }

    /// Ends the body and returns the body hash.
    public mutating func finalize() -> [UInt8] {
        canonicalizer.finish(into: &sink)
        return sink.digest.finalize()
    }
}

private struct LimitedDigest: CanonicalBodySink {
    var digest: any IncrementalDigest
    let lengthLimit: Int?
    var canonicalLength = 0

    mutating func absorb(_ bytes: UnsafeBufferPointer<UInt8>) {
        var take = bytes.count
        if let limit = lengthLimit {
            take = max(0, min(take, limit - canonicalLength))
        }
        canonicalLength += bytes.count
        if take > 0 {
            digest.update(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[0..<take])))
        }
    }
}
