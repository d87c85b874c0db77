import DKIM
import DKIMOpenSSL
import DKIMTestSupport
import Foundation

/// What a message delivered to the sink must look like after one path through Postfix: signed
/// (and the signature verifying), carrying one Authentication-Results of ours with the given
/// result (`dkim=pass`, `dkim=none`), unchanged (no signature and no results of ours added), or
/// unchanged but for one field of the given name (the null milter's floor signature).
public struct DeliveryCheck {
    public enum Expectation: Sendable {
        case signed
        case results(String)
        case unchanged
        case addedField(String)
    }

    public let expectation: Expectation
    /// The authserv-id the milters under test write (MilterUnderTest's AuthservID).
    public let authservID: String
    private let verifier: DKIMVerifier

    public init(_ expectation: Expectation, records: String, authservID: String = "bench.example") throws {
        self.expectation = expectation
        self.authservID = authservID
        verifier = DKIMVerifier(resolver: try StaticTXTResolver(parsingRecordsFile: records),
                                crypto: OpenSSLCryptoProvider())
    }

    /// Nil when `message` (a sink dump with CRLF line ends) is as expected, else what is wrong.
    public func problem(_ message: [UInt8], originallySigned: Bool) -> String? {
        let fields = Lab.headerFields(message)
        let signatures = fields.filter { $0.name.lowercased() == "dkim-signature" }.count
        let ours = fields.filter {
            $0.name.lowercased() == "authentication-results" && Lab.authservID($0.value) == authservID
        }.map(\.value)
        switch expectation {
        case .signed:
            guard signatures == (originallySigned ? 2 : 1) else { return "\(signatures) DKIM-Signature fields" }
            do {
                let v = try verifier.verify(message: message, now: Int(Date().timeIntervalSince1970))
                guard v.signatures.first?.result == .pass else {
                    return "the signature does not verify: \(String(describing: v.signatures.first?.result))"
                }
            } catch {
                return "cannot verify: \(error)"
            }
        case .results(let result):
            guard signatures == (originallySigned ? 1 : 0), ours.count == 1, ours[0].contains(result) else {
                return "\(signatures) DKIM-Signature fields, our results \(ours)"
            }
        case .unchanged:
            guard signatures == (originallySigned ? 1 : 0), ours.isEmpty else {
                return "changed: \(signatures) DKIM-Signature fields, our results \(ours)"
            }
        case .addedField(let name):
            let added = fields.filter { $0.name.lowercased() == name.lowercased() }
            guard signatures == (originallySigned ? 1 : 0), ours.isEmpty, added.count == 1,
                  added[0].value.contains("b=") else {
                return "\(added.count) \(name) fields, \(signatures) DKIM-Signature fields, our results \(ours)"
            }
        }
        return nil
    }
}
