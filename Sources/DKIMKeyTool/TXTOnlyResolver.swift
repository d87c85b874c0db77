import DKIM

/// A TXT resolver seen as a `DNSResolver` that has only TXT records: enough for the DMARC tree
/// walk, which asks for nothing else.
struct TXTOnlyResolver: DNSResolver {
    let txt: any TXTResolver

    func lookup(_ name: String, type: DNSRecordType) -> DNSLookupResult {
        guard type == .txt else { return .noData }
        switch txt.lookupTXT(name) {
        case .records(let list) where list.isEmpty: return .noData
        case .records(let list): return .answer(DNSAnswer(records: list.map(DNSRecord.txt), ttl: 0))
        case .nameNotFound: return .nameNotFound
        case .temporaryFailure: return .temporaryFailure(.serverFailure)
        }
    }
}
