import DKIM
import DKIMPolicy

extension DoctorReport {
    /// Lines for people: the findings by area, one line each (OK, WARN, FAIL) with details and the
    /// record to publish under it, the receivers' table and the verdict. What DNS said is escaped
    /// (`Printable.escaped`): a record cannot put control bytes on the terminal.
    public func text(server: String) -> String {
        func e(_ s: String) -> String { Printable.escaped(s, limit: 2000) }
        var lines = ["dkimkey doctor \(e(domain)) (DNS: \(e(server)))"]
        let titles: [DoctorFinding.Area: String] = [.dkim: "DKIM", .dmarc: "DMARC", .spf: "SPF"]
        for area in DoctorFinding.Area.allCases {
            let list = findings(area)
            guard !list.isEmpty else { continue }
            lines.append("")
            lines.append(titles[area]!)
            for f in list {
                let word = switch f.status { case .ok: "OK  "; case .warn: "WARN"; case .fail: "FAIL" }
                lines.append("\(word) \(f.check): \(e(f.message))")
                for d in f.details { lines.append("       " + e(d)) }
                if let r = f.publish {
                    lines.append("       publish: \(e(r.name)) \(r.type) \"\(e(r.value))\"")
                }
            }
        }
        lines.append("")
        lines.append("Receivers (their rules for bulk senders, over 5,000 messages a day)")
        func cell(_ s: PartState) -> String {
            switch s { case .ok: "OK  "; case .missing: "no  "; case .unknown: "?   " }
        }
        for r in receivers {
            let name = r.receiver.padding(9)
            lines.append("  \(name) SPF \(cell(r.spf)) DKIM \(cell(r.dkim)) DMARC \(cell(r.dmarc)) aligned: "
                + r.aligned.padding(14) + (r.meetsRules ? "meets the rules" : "does not meet the rules yet"))
            lines.append("  \("".padding(9)) \(e(r.note))")
        }
        if let next = receivers.first?.nextStep {
            lines.append("  Next step: \(e(next))")
        }
        lines.append("")
        let fails = findings.filter { $0.status == .fail }.count
        let warns = findings.filter { $0.status == .warn }.count
        if passed {
            let warnings = warns > 0 ? " (\(warns) WARN)" : ""
            lines.append("Result: OK, nothing failed\(warnings); \(queries) DNS lookups.")
        } else {
            lines.append("Result: not ready, fix the \(fails == 1 ? "FAIL line" : "\(fails) FAIL lines") above; "
                + "\(queries) DNS lookups.")
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
