/// Where a key of the file key store is in its life (`keys.state`, written by `dkimkey rotate`).
///
/// pending → active → retiring → revoked → (deleted): a new key is published before it signs,
/// the old one stays published for the overlap window (mail in queues and in transit still
/// verifies), then its record is replaced by the revoked form `v=DKIM1; p=` (RFC 6376 §3.6.1),
/// then deleted.
public enum KeyLifecycle: String, Sendable, CaseIterable, Codable {
    /// Made, its record not yet proven published: it signs only once DNS serves its record.
    case pending
    /// Signing.
    case active
    /// Replaced by a newer key: still published, no longer signing, revoked after the overlap.
    case retiring
    /// Its record is (to be) the revoked form; the private key has left the signing set.
    case revoked

    /// Whether a key in this state may sign at all (pending ones only once published).
    public var maySign: Bool { self == .active || self == .pending }
}
