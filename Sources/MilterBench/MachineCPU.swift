import Foundation

/// The whole machine's CPU time from the first line of /proc/stat (all cores, clock ticks): how
/// busy it was between two readings, to tell a CPU-bound run from one that waits (disk, latency).
public struct MachineCPU: Sendable {
    public var busy: Double
    public var idle: Double

    public static func read() -> MachineCPU {
        let text = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8)) ?? ""
        let first = text.split(separator: "\n").first ?? ""
        // cpu user nice system idle iowait irq softirq steal …
        let v = first.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard v.count >= 8 else { return MachineCPU(busy: 0, idle: 0) }
        return MachineCPU(busy: v[0] + v[1] + v[2] + v[5] + v[6] + v[7], idle: v[3] + v[4])
    }

    /// The busy share of all cores between `before` and `after` (0…1).
    public static func busyShare(from before: MachineCPU, to after: MachineCPU) -> Double {
        let busy = after.busy - before.busy, all = busy + after.idle - before.idle
        return all > 0 ? busy / all : 0
    }
}
