import DKIM
import Dispatch

/// The client as the DKIM verifier's key resolver, blocking or not.
extension DNSClient: TTLTXTResolver, AsyncTXTResolver {
    public func lookupTXT(_ name: String) -> TXTLookupResult {
        lookupTXTWithTTL(name).result
    }

    public func lookupTXTWithTTL(_ name: String) -> (result: TXTLookupResult, ttl: UInt32?) {
        Self.txtResult(lookup(name, type: .txt), name: name)
    }

    public func lookupTXT(_ name: String, deadline: DispatchTime,
                          completion: @escaping @Sendable (TXTLookupResult, UInt32?) -> Void) {
        query(name, type: .txt, deadline: deadline) { result in
            let (txt, ttl) = Self.txtResult(result, name: name)
            completion(txt, ttl)
        }
    }

    /// RFC 6376 §6.1.2: NXDOMAIN and NODATA mean no key (NODATA as no records, which the
    /// verifier reports as "no TXT record"); every failure is temporary.
    static func txtResult(_ result: DNSLookupResult, name: String) -> (result: TXTLookupResult, ttl: UInt32?) {
        if case .answer(let answer) = result { return (TXTLookupResult(result, name: name), answer.ttl) }
        return (TXTLookupResult(result, name: name), nil)
    }
}
