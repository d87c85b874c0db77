/// How long a pool waits between attempts to connect while the server is unavailable: `initial`
/// after the first failure, doubling up to `maximum`, each wait lengthened by up to a quarter at
/// random so that a fleet of milters does not come back at the same instant. Between attempts no
/// connection is tried at all: lookups fail at once with a temporary error.
public struct PostgresBackoff: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration

    public init(initial: Duration = .milliseconds(500), maximum: Duration = .seconds(15)) {
        self.initial = initial
        self.maximum = max(initial, maximum)
    }

    func interval(after previous: Duration) -> Duration { min(previous * 2, maximum) }

    /// `interval` plus up to a quarter of it.
    func jittered(_ interval: Duration) -> Duration { interval + interval * Double.random(in: 0..<0.25) }
}
