/// What each part found, for the receivers' table.
public enum PartState: String, Sendable, Equatable {
    /// Meets the receivers' rules.
    case ok
    /// Missing or failing.
    case missing
    /// Could not be learned (DNS failure).
    case unknown
}
