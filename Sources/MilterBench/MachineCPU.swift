import Foundation
import Glibc

/// The whole machine's CPU time from the first line of /proc/stat (all cores, clock ticks): how
/// busy it was between two readings, to tell a CPU-bound run from one that waits (disk, latency).
public struct MachineCPU: Sendable {
    public var busy: Double
    public var idle: Double
    /// The part of `busy` spent in interrupts (irq + softirq): loopback networking is done there,
    /// for the run itself, and charged to no process.
    public var interrupts: Double

    public static func read() -> MachineCPU {
        let text = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8)) ?? ""
        let first = text.split(separator: "\n").first ?? ""
        // cpu user nice system idle iowait irq softirq steal …
        let v = first.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard v.count >= 8 else { return MachineCPU(busy: 0, idle: 0, interrupts: 0) }
        return MachineCPU(busy: v[0] + v[1] + v[2] + v[5] + v[6] + v[7], idle: v[3] + v[4], interrupts: v[5] + v[6])
    }

    /// Busy CPU seconds (all cores) between `before` and `after`.
    public static func busySeconds(from before: MachineCPU, to after: MachineCPU) -> Double {
        (after.busy - before.busy) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Of those, the seconds spent in interrupts.
    public static func interruptSeconds(from before: MachineCPU, to after: MachineCPU) -> Double {
        (after.interrupts - before.interrupts) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The CPU seconds used so far by this process and by the children it has waited for.
    public static func ownAndReapedChildren() -> Double {
        func seconds(_ who: Int32) -> Double {
            var u = rusage()
            getrusage(__rusage_who_t(who), &u)
            return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
        }
        return seconds(RUSAGE_SELF.rawValue) + seconds(RUSAGE_CHILDREN.rawValue)
    }

    /// The busy share of all cores between `before` and `after` (0…1).
    public static func busyShare(from before: MachineCPU, to after: MachineCPU) -> Double {
        let busy = after.busy - before.busy, all = busy + after.idle - before.idle
        return all > 0 ? busy / all : 0
    }
}
