/// Durations as admins write them: `3600` (seconds), `90s`, `30m`, `1h`, `7d`.
public enum DurationText {
    /// The seconds a text names, or nil when it is not a duration.
    public static func seconds(_ text: String) -> Double? {
        let t = text.lowercased()
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
        if let last = t.last, let unit = units[last] {
            return Double(t.dropLast()).flatMap { $0 >= 0 ? $0 * unit : nil }
        }
        return Double(t).flatMap { $0 >= 0 ? $0 : nil }
    }
}
