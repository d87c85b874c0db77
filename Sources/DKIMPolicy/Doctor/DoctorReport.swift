/// The whole report.
public struct DoctorReport: Sendable {
    public var domain: String
    public var findings: [DoctorFinding]
    public var receivers: [ReceiverRow]
    /// DNS lookups asked (cached answers included).
    public var queries: Int

    /// Exit 0 only when nothing failed.
    public var passed: Bool { !findings.contains { $0.status == .fail } }

    public func findings(_ area: DoctorFinding.Area) -> [DoctorFinding] { findings.filter { $0.area == area } }
}
