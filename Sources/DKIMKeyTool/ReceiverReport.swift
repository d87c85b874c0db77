import DKIM
import DKIMPolicy

/// `dkimkey verify --explain`: what a receiver wrote about the message in its
/// Authentication-Results (or ARC-Authentication-Results) field, and in words what DMARC saw
/// there and why it passed or failed. Alignment is judged with RFC 9989 tree walks over the
/// verifier's own key resolver (DNS, or the records file).
public struct ReceiverReport: Sendable, Encodable {
    /// `Authentication-Results` or `ARC-Authentication-Results`.
    public var field: String
    public var authservID: String
    public var dmarc: String?
    public var explanation: [String]

    enum CodingKeys: String, CodingKey { case field, authservID = "authserv_id", dmarc, explanation }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(field, forKey: .field)
        try c.encode(authservID, forKey: .authservID)
        try c.encode(dmarc, forKey: .dmarc)
        try c.encode(explanation, forKey: .explanation)
    }

    /// At most this many fields are read, topmost (the last receiver's) first.
    static let maximumFields = 6

    /// The reports of a message's header fields.
    static func reports(headers: [HeaderField], fromDomain: String?, resolver: any TXTResolver) -> [ReceiverReport] {
        let dns = TXTOnlyResolver(txt: resolver)
        var walks: [String: DMARCTreeWalk] = [:]
        func walk(_ d: String) -> DMARCTreeWalk {
            if let w = walks[d] { return w }
            let w = DMARCTreeWalk(from: d, resolver: dns)
            walks[d] = w
            return w
        }
        var out: [ReceiverReport] = []
        for f in headers where f.hasName("authentication-results") || f.hasName("arc-authentication-results") {
            guard out.count < maximumFields else { break }
            let arc = f.hasName("arc-authentication-results")
            let value = String(decoding: f.rawValue, as: UTF8.self)
            guard let results = ReceivedAuthenticationResults(value: value, arc: arc) else { continue }
            let from = results.results("dmarc").first?.property("header.from").map(ReceiverVerdict.domain) ?? fromDomain
            let policy = from.flatMap { walk($0).policyStep?.record }
            let verdict = ReceiverVerdict(results, messageFromDomain: fromDomain,
                                          dkimAlignment: policy?.dkimAlignment ?? .relaxed,
                                          spfAlignment: policy?.spfAlignment ?? .relaxed,
                                          organizationalDomain: { walk($0).organizationalDomain })
            out.append(ReceiverReport(field: arc ? "ARC-Authentication-Results" : "Authentication-Results",
                                      authservID: results.authservID, dmarc: verdict.dmarc, explanation: verdict.lines))
        }
        return out
    }
}
