internal import CResolv
import DKIM

/// Looks TXT records up through glibc's resolver (`res_nquery`), one private resolver state
/// per lookup: the servers in /etc/resolv.conf, or one chosen server (IPv4, any port).
public struct SystemTXTResolver: TTLTXTResolver {
    /// A name server as `IP` or `IP:PORT`; nil uses /etc/resolv.conf.
    public let nameserver: (address: String, port: Int)?
    /// Seconds per try.
    public let timeout: Int
    /// How many times each query is sent.
    public let tries: Int

    public init(nameserver: String? = nil, timeout: Int = 5, tries: Int = 2) throws(DKIMError) {
        if let nameserver {
            let parts = nameserver.split(separator: ":")
            guard (parts.count == 1 || parts.count == 2), let port = parts.count == 2 ? Int(parts[1]) : 53,
                  (1...65535).contains(port), parts[0].split(separator: ".").count == 4 else {
                throw DKIMError(.invalidArgument, "\"\(nameserver)\" is not an IPv4 name server such as 127.0.0.1 or 127.0.0.1:5353")
            }
            self.nameserver = (String(parts[0]), port)
        } else {
            self.nameserver = nil
        }
        self.timeout = max(1, timeout)
        self.tries = max(1, tries)
    }

    public func lookupTXT(_ name: String) -> TXTLookupResult {
        lookupTXTWithTTL(name).result
    }

    public func lookupTXTWithTTL(_ name: String) -> (result: TXTLookupResult, ttl: UInt32?) {
        var buffer = [UInt8](repeating: 0, count: 65535)
        var herr: Int32 = 0
        let n = buffer.withUnsafeMutableBufferPointer { b in
            if let ns = nameserver {
                return cresolv_query_txt_at(name, b.baseAddress, Int32(b.count), &herr, ns.address, Int32(ns.port),
                                            Int32(timeout), Int32(tries))
            }
            return cresolv_query_txt_at(name, b.baseAddress, Int32(b.count), &herr, nil, 0, Int32(timeout), Int32(tries))
        }
        if n < 0 {
            switch herr {
            case HOST_NOT_FOUND: return (.nameNotFound, nil)
            case NO_DATA: return (.records([]), nil)
            case TRY_AGAIN: return (.temporaryFailure(reason: "the DNS server did not answer or answered SERVFAIL"), nil)
            default: return (.temporaryFailure(reason: "the DNS lookup failed (resolver error \(herr))"), nil)
            }
        }
        guard let answer = DNSResponse.answer(in: Array(buffer.prefix(min(Int(n), buffer.count)))) else {
            return (.temporaryFailure(reason: "the DNS answer for \(name) is malformed"), nil)
        }
        return (.records(answer.records), answer.ttl)
    }
}
