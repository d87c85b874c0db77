internal import CResolv
import DKIM

/// Looks TXT records up through the system's resolver (glibc `res_nquery`, the servers
/// in /etc/resolv.conf), one private resolver state per lookup.
public struct SystemTXTResolver: TXTResolver {
    public init() {}

    public func lookupTXT(_ name: String) -> TXTLookupResult {
        var buffer = [UInt8](repeating: 0, count: 65535)
        var herr: Int32 = 0
        let n = buffer.withUnsafeMutableBufferPointer { b in
            cresolv_query_txt(name, b.baseAddress, Int32(b.count), &herr)
        }
        if n < 0 {
            switch herr {
            case HOST_NOT_FOUND, NO_DATA: return .nameNotFound
            case TRY_AGAIN: return .temporaryFailure(reason: "the DNS server did not answer or answered SERVFAIL")
            default: return .temporaryFailure(reason: "the DNS lookup failed (resolver error \(herr))")
            }
        }
        guard let records = DNSResponse.txtRecords(in: Array(buffer.prefix(min(Int(n), buffer.count)))) else {
            return .temporaryFailure(reason: "the DNS answer for \(name) is malformed")
        }
        return records.isEmpty ? .nameNotFound : .records(records)
    }
}
