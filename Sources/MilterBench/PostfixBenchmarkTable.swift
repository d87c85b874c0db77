import Foundation

/// The Markdown table of `dkim-bench postfix`: per path, the rate (median and range), the share of
/// the no-milter rate kept (median of the ratios within each round), and CPU per message of the
/// milter, smtpd, cleanup and all of Postfix, and how busy the machine's cores were (medians).
public enum PostfixBenchmarkTable {
    public static let header = [
        "| case | path | msg/s (median, range) | share kept | milter CPU ms/msg | smtpd ms/msg | cleanup ms/msg "
            + "| all Postfix ms/msg | cores busy (others) | checked |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    public static func rows(_ c: PostfixBenchmark.Case, _ results: [PostfixBenchmark.Entry: [PostfixBenchmark.Run]],
                            entries: [PostfixBenchmark.Entry]) -> [String] {
        let baseline = entries.first { $0.path == .none }.flatMap { results[$0] }?.map(\.messagesPerSecond)
        return entries.compactMap { entry -> String? in
            guard let runs = results[entry], !runs.isEmpty else { return nil }
            let rates = runs.map(\.messagesPerSecond)
            var shares: [Double] = []
            if let baseline {
                for (r, b) in zip(rates, baseline) where b > 0 { shares.append(r / b) }
            }
            func perMessage(_ seconds: (PostfixBenchmark.Run) -> Double?) -> String {
                let v = runs.compactMap { r in seconds(r).map { $0 / Double(max(1, r.delivered)) * 1000 } }
                return v.isEmpty ? "–" : String(format: "%.3f", BenchFormat.median(v))
            }
            let checked = runs.reduce(0) { $0 + $1.checked }
            let problems = runs.reduce(0) { $0 + $1.problems }
            let reaped = runs.reduce(0.0) { $0 + $1.reapedCPU }
            var notes = "\(checked - problems)/\(checked)"
            if let first = runs.compactMap(\.firstProblem).first { notes += "; \(first)" }
            if reaped > 0 { notes += String(format: "; %.2f s CPU of exited daemons", reaped) }
            return "| \(BenchFormat.size(c.size)) \(c.tcp ? "inet" : "unix") | \(entry.label) | "
                + String(format: "%.0f (%.0f–%.0f)", BenchFormat.median(rates), rates.min() ?? 0, rates.max() ?? 0)
                + " | " + (shares.isEmpty ? "–" : String(format: "%.2f", BenchFormat.median(shares)))
                + " | \(perMessage(\.milterCPU)) | \(perMessage { $0.daemonCPU["smtpd"] })"
                + " | \(perMessage { $0.daemonCPU["cleanup"] })"
                + " | \(perMessage { $0.daemonCPU.values.reduce(0, +) + $0.reapedCPU })"
                + String(format: " | %.0f%% (%.0f%%)", BenchFormat.median(runs.map(\.machineBusy)) * 100,
                         BenchFormat.median(runs.map(\.othersShare)) * 100) + " | \(notes) |"
        }
    }
}
