import DKIM
import DKIMOpenSSL
import Foundation

/// `dkimkey verify`: what each signature of one message file came to.
public struct MessageReport: Sendable {
    public struct Signature: Sendable, Encodable {
        public var index: Int
        public var domain: String?
        public var selector: String?
        public var algorithm: String?
        public var result: String
        public var reason: String
        public var code: String?
        /// Whether d= is aligned with the From domain (DMARC relaxed); only meaningful for pass.
        public var aligned: Bool
        /// Present with --explain for a signature that did not pass.
        public var explanation: [String]?

        enum CodingKeys: String, CodingKey {
            case index, domain, selector, algorithm, result, reason, code, aligned, explanation
        }

        /// Unknown values are written as null, never left out.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(index, forKey: .index)
            try c.encode(domain, forKey: .domain)
            try c.encode(selector, forKey: .selector)
            try c.encode(algorithm, forKey: .algorithm)
            try c.encode(result, forKey: .result)
            try c.encode(reason, forKey: .reason)
            try c.encode(code, forKey: .code)
            try c.encode(aligned, forKey: .aligned)
            if let explanation { try c.encode(explanation, forKey: .explanation) }
        }
    }

    public var file: String
    public var signatures: [Signature]
    /// With --explain: what the receivers' Authentication-Results fields say.
    public var receivers: [ReceiverReport]?
    public var fromDomain: String?
    /// Whether a passing signature is aligned with the From domain (DMARC relaxed alignment).
    public var aligned: Bool
    /// Whether at least one signature passed.
    public var hasPass: Bool { signatures.contains { $0.result == "pass" } }

    /// Verifies one message file.
    public static func make(file: String, message: [UInt8], verifier: DKIMVerifier, now: Int,
                            suffixes: PublicSuffixList, explain: Bool) throws(ToolError) -> MessageReport {
        let verification: MessageVerification
        do {
            verification = try verifier.verify(message: message, now: now)
        } catch {
            throw ToolError("\(file): cannot read the message: \(error.reason)")
        }
        let fromDomain = verification.fromDomain
        var signatures: [Signature] = []
        for v in verification.signatures {
            let aligned = v.result.isPass && fromDomain != nil && v.domain != nil
                && suffixes.isRelaxedAligned(v.domain!.lowercased(), fromDomain!)
            var s = Signature(index: v.index, domain: v.domain, selector: v.selector, algorithm: v.algorithm,
                              result: v.result.word, reason: v.reason, code: v.result.error?.code.rawValue,
                              aligned: aligned)
            if explain && !v.result.isPass {
                s.explanation = FailureExplainer(message: message, verifier: verifier).explain(v)
            }
            signatures.append(s)
        }
        var receivers: [ReceiverReport]?
        if explain {
            var headers: [HeaderField] = []
            try? MessageParser.parseWhole(message) { if case .header(let f) = $0 { headers.append(f) } }
            receivers = ReceiverReport.reports(headers: headers, fromDomain: fromDomain, resolver: verifier.resolver)
        }
        return MessageReport(file: file, signatures: signatures, receivers: receivers, fromDomain: fromDomain,
                             aligned: signatures.contains { $0.aligned })
    }

    /// One JSON object on one line.
    public func json() -> String {
        struct Line: Encodable {
            var file: String
            var signatures: [Signature]
            var from_domain: String?
            var aligned: Bool
            var receivers: [ReceiverReport]?
            func encode(to encoder: any Encoder) throws {
                enum K: String, CodingKey { case file, signatures, from_domain, aligned, receivers }
                var c = encoder.container(keyedBy: K.self)
                try c.encode(file, forKey: .file)
                try c.encode(signatures, forKey: .signatures)
                try c.encode(from_domain, forKey: .from_domain)  // null when unknown
                try c.encode(aligned, forKey: .aligned)
                if let receivers { try c.encode(receivers, forKey: .receivers) }
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let line = Line(file: file, signatures: signatures, from_domain: fromDomain, aligned: aligned,
                        receivers: receivers)
        let data = (try? encoder.encode(line)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Lines for people. What the message or DNS said is escaped (`Printable.escaped`): an ESC
    /// in `s=` cannot colour the terminal, and a folded `c=` cannot start a line of its own.
    public func text() -> String {
        func e(_ text: String) -> String { Printable.escaped(text, limit: 400) }
        var lines: [String] = []
        let count = signatures.count
        let from = fromDomain.map { "From domain \(e($0))" } ?? "no single From address"
        lines.append("\(e(file)): "
            + "\(count == 0 ? "no DKIM signature (dkim=none)" : "\(count) signature\(count == 1 ? "" : "s")"); \(from)")
        for s in signatures {
            var line = "  [\(s.index)] d=\(e(s.domain ?? "-")) s=\(e(s.selector ?? "-")) "
                + "a=\(e(s.algorithm ?? "-")): \(s.result)"
            line += s.result == "pass"
                ? (s.aligned ? ", aligned with From" : ", not aligned with From") : " — \(e(s.reason))"
            lines.append(line)
            for x in s.explanation ?? [] { lines.append("      \(e(x))") }
        }
        if let receivers {
            if receivers.isEmpty && !hasPass {
                lines.append("  no Authentication-Results field: save the message as the receiver shows it "
                    + "(Gmail: Show original) to see what it decided")
            }
            for (n, r) in receivers.enumerated() {
                let which = n == 0 ? ", the topmost: the last receiver's" : ""
                lines.append("  receiver's view (\(r.field) by \(e(r.authservID))\(which)):")
                for x in r.explanation { lines.append("      \(e(x))") }
            }
        }
        return lines.joined(separator: "\n")
    }
}
