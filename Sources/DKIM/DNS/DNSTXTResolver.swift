/// A `DNSResolver` seen as a `TXTResolver`: the TXT records of a lookup, each one's strings
/// joined (RFC 6376 §3.6.2.2); NODATA as no records and NXDOMAIN as no name (RFC 6376 §6.1.2:
/// both mean no key); every failure temporary, with the name in the reason.
public struct DNSTXTResolver: TXTResolver {
    public let resolver: any DNSResolver

    public init(_ resolver: any DNSResolver) {
        self.resolver = resolver
    }

    public func lookupTXT(_ name: String) -> TXTLookupResult {
        TXTLookupResult(resolver.lookup(name, type: .txt), name: name)
    }
}

extension TXTLookupResult {
    /// What a TXT query's result means to a DKIM verifier (RFC 6376 §6.1.2).
    public init(_ result: DNSLookupResult, name: String) {
        switch result {
        case .answer(let answer):
            self = .records(answer.records.compactMap { record -> String? in
                if case .txt(let text) = record { text } else { nil }
            })
        case .noData: self = .records([])
        case .nameNotFound: self = .nameNotFound
        case .temporaryFailure(let failure): self = .temporaryFailure(reason: "\(failure) (\(name))")
        }
    }
}
