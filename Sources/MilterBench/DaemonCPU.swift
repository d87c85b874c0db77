import DKIMTestSupport
import Foundation
import Glibc

/// The CPU time of a Postfix instance's daemons by program name (`smtpd`, `cleanup`, `qmgr`,
/// `smtp`, …), from /proc: every live process of master's process group, and what master has
/// reaped (the CPU of daemons that exited, which can no longer be told apart by name).
public struct DaemonCPU: Sendable {
    /// pid → (program name, user + system CPU seconds so far).
    public var processes: [pid_t: (name: String, seconds: Double)]
    /// master's own CPU, and that of its children it has waited for (cutime + cstime).
    public var master: Double
    public var reaped: Double

    public static func read(master pid: pid_t) -> DaemonCPU {
        var processes: [pid_t: (String, Double)] = [:]
        for p in Postfix.processes(inGroup: pid) where p != pid {
            if let name = name(p), let fields = statFields(p) { processes[p] = (name, seconds(fields, 11, 12)) }
        }
        let fields = statFields(pid) ?? []
        return DaemonCPU(processes: processes, master: seconds(fields, 11, 12), reaped: seconds(fields, 13, 14))
    }

    /// CPU seconds used between `before` and `after`, by program name (a process born in between
    /// counts from zero); `reaped` is the CPU of daemons that exited in between.
    public static func used(from before: DaemonCPU, to after: DaemonCPU) -> (byName: [String: Double], reaped: Double) {
        var byName: [String: Double] = [:]
        for (pid, p) in after.processes {
            byName[p.name, default: 0] += p.seconds - (before.processes[pid]?.seconds ?? 0)
        }
        byName["master", default: 0] += after.master - before.master
        return (byName, after.reaped - before.reaped)
    }

    private static func name(_ pid: pid_t) -> String? {
        (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The fields of /proc/PID/stat after "(comm)": state is [0], utime [11], stime [12], cutime
    /// [13], cstime [14] (clock ticks).
    private static func statFields(_ pid: pid_t) -> [Substring]? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ")
    }

    private static func seconds(_ fields: [Substring], _ a: Int, _ b: Int) -> Double {
        guard fields.count > max(a, b), let x = Double(fields[a]), let y = Double(fields[b]) else { return 0 }
        return (x + y) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
