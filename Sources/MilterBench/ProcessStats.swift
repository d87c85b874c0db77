import DKIMTestSupport
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
        guard let stat = ProcStat(pid: pid),
              let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func kB(_ name: String) -> Int {
            status.split(separator: "\n").first { $0.hasPrefix(name + ":") }
                .flatMap { Int($0.split(whereSeparator: { $0 == " " || $0 == "\t" })[1]) }.map { $0 * 1024 } ?? 0
        }
        return ProcessStats(cpuSeconds: stat.seconds, peakRSS: kB("VmHWM"), rss: kB("VmRSS"))
    }
}
