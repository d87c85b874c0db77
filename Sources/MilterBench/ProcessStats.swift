import Foundation
import Glibc

/// CPU time and peak memory of a process, from /proc.
public struct ProcessStats: Sendable {
    /// User + system CPU seconds used so far.
    public var cpuSeconds: Double
    /// Peak resident set size (VmHWM), bytes.
    public var peakRSS: Int
    /// Current resident set size (VmRSS), bytes.
    public var rss: Int

    public static func read(pid: Int32) -> ProcessStats? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        func kB(_ name: String) -> Int {
            status.split(separator: "\n").first { $0.hasPrefix(name + ":") }
                .flatMap { Int($0.split(whereSeparator: { $0 == " " || $0 == "\t" })[1]) }.map { $0 * 1024 } ?? 0
        }
        return ProcessStats(cpuSeconds: (utime + stime) / ticks, peakRSS: kB("VmHWM"), rss: kB("VmRSS"))
    }
}
