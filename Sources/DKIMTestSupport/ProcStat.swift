import Foundation
import Glibc

/// A process's line of /proc/PID/stat (proc(5)): its name, state, process group and CPU time,
/// read once, so that a process exiting in between cannot mix two readings.
public struct ProcStat: Sendable {
    /// The program name (comm, at most 15 bytes).
    public var name: String
    /// R, S, D, Z (zombie: exited, not yet waited for; its CPU time is still here), …
    public var state: Character
    public var processGroup: pid_t
    /// User + system CPU seconds of the process itself (utime + stime).
    public var seconds: Double
    /// … and of its children it has waited for (cutime + cstime).
    public var reapedChildrenSeconds: Double

    public init?(pid: pid_t) {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { return nil }
        // After "(comm)": state [0], ppid [1], pgrp [2], …, utime [11], stime [12], cutime [13], cstime [14].
        let f = stat[stat.index(after: close)...].split(separator: " ")
        guard f.count > 14, let state = f[0].first, let group = pid_t(f[2]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        func sum(_ a: Int, _ b: Int) -> Double { ((Double(f[a]) ?? 0) + (Double(f[b]) ?? 0)) / ticks }
        name = String(stat[stat.index(after: open)..<close])
        self.state = state
        processGroup = group
        seconds = sum(11, 12)
        reapedChildrenSeconds = sum(13, 14)
    }

    /// Every process on the machine (pid and its line) whose process group is `group`.
    public static func processes(inGroup group: pid_t,
                                 includingZombies: Bool = false) -> [(pid: pid_t, stat: ProcStat)] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { name in
            guard let pid = pid_t(name), let s = ProcStat(pid: pid), s.processGroup == group,
                  includingZombies || s.state != "Z" else { return nil }
            return (pid, s)
        }
    }
}
