import Foundation

/// What a pool tells its observer, once each: connections to the server started failing (with the
/// first failure's reason), and they work again. A milter logs one line for each, not one per
/// message; between the two, lookups fail fast with a temporary error (the pool backs off).
public enum PostgresOutage: Sendable, Equatable, CustomStringConvertible {
    /// The first failure to connect (or a connection lost and not made again).
    case began(reason: String)
    /// A connection was made again after `duration`.
    case ended(duration: Duration)

    public var description: String {
        switch self {
        case .began(let reason):
            return "PostgreSQL unavailable: \(reason)"
        case .ended(let duration):
            let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
            return "PostgreSQL available again after " + String(format: "%.1f s", seconds)
        }
    }
}
