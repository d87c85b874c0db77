import DKIMTestSupport
import Foundation
import Glibc

/// The CPU time of a Postfix instance's daemons by program name (`smtpd`, `cleanup`, `qmgr`,
/// `smtp`, …), from /proc: every process of master's process group (zombies too: their time is
/// still theirs until master waits for them), and what master has reaped (the CPU of daemons that
/// exited, which can no longer be told apart by name).
public struct DaemonCPU: Sendable {
    /// pid → (program name, user + system CPU seconds so far).
    public var processes: [pid_t: (name: String, seconds: Double)]
    /// master's own CPU, and that of its children it has waited for (cutime + cstime).
    public var master: Double
    public var reaped: Double

    public static func read(master pid: pid_t) -> DaemonCPU {
        var processes: [pid_t: (String, Double)] = [:]
        for (p, stat) in ProcStat.processes(inGroup: pid, includingZombies: true) where p != pid {
            processes[p] = (stat.name, stat.seconds)
        }
        let master = ProcStat(pid: pid)
        return DaemonCPU(processes: processes, master: master?.seconds ?? 0,
                         reaped: master?.reapedChildrenSeconds ?? 0)
    }

    /// CPU seconds used between `before` and `after`, by program name (a process born in between
    /// counts from zero); `reaped` is the CPU that daemons which exited in between used after
    /// `before` (master's reaped total holds their whole life: what `before` saw of them is taken off).
    public static func used(from before: DaemonCPU, to after: DaemonCPU) -> (byName: [String: Double], reaped: Double) {
        var byName: [String: Double] = [:]
        for (pid, p) in after.processes {
            byName[p.name, default: 0] += max(0, p.seconds - (before.processes[pid]?.seconds ?? 0))
        }
        byName["master", default: 0] += after.master - before.master
        let seenBefore = before.processes.filter { after.processes[$0.key] == nil }.values.reduce(0) { $0 + $1.seconds }
        return (byName, max(0, after.reaped - before.reaped - seenBefore))
    }
}
