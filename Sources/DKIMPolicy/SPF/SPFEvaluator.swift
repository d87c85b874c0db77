import DKIM

/// SPF's check_host() (RFC 7208 §4), over an injected `DNSResolver`, with the processing limits
/// of §4.6.4: at most 10 terms that query DNS (`include`, `a`, `mx`, `ptr`, `exists`,
/// `redirect`), at most 2 of their lookups void, at most 10 MX names per `mx`, at most 10 PTR
/// names per `ptr`. An `include:` or `redirect=` back to a domain already being evaluated is a
/// loop and ends in permerror at once. So one evaluation makes at most 122 queries, and it stops
/// at the first DNS failure (temperror, §5); a budget in the resolver can bound it further.
public struct SPFEvaluator: Sendable {
    /// The limits of RFC 7208 §4.6.4.
    public struct Limits: Sendable {
        public var dnsLookups = 10
        public var voidLookups = 2
        public var mxNames = 10
        public var ptrNames = 10
        public init() {}
    }

    /// What one evaluation found.
    public struct Evaluation: Sendable {
        public var result: SPFResult
        /// In words: the term that matched, or why there is no result.
        public var reason: String
        /// The terms that counted toward the limit of 10.
        public var lookups: Int
        public var voidLookups: Int
        /// DNS queries made (through the resolver, cached or not).
        public var queries: Int
        public var trace: SPFTrace
    }

    public let resolver: any DNSResolver
    public let limits: Limits

    public init(resolver: any DNSResolver, limits: Limits = Limits()) {
        self.resolver = resolver
        self.limits = limits
    }

    /// check_host(`ip`, `domain`, `sender`) (RFC 7208 §4.1). `ip` nil matches no address: the
    /// evaluation then visits every term, which is the worst case a receiver can meet, and is what
    /// the lookup count and the tree of a record are measured on. `record` evaluates that text as if
    /// it were `domain`'s record (to try a record before publishing it).
    public func checkHost(_ ip: IPAddress?, domain: String, sender: String? = nil, helo: String? = nil,
                          record: String? = nil) -> Evaluation {
        let d = Self.normalized(domain)
        let run = Run(evaluator: self, ip: ip, sender: sender ?? "postmaster@" + d, helo: helo ?? d)
        let root = TraceNode(domain: d)
        var result: SPFResult
        var reason: String
        do {
            (result, reason) = try run.evaluate(domain: d, override: record, node: root, stack: [])
        } catch {
            switch error {
            case .temperror(let why): (result, reason) = (.temperror, why)
            case .permerror(let why): (result, reason) = (.permerror, why)
            }
        }
        return Evaluation(result: result, reason: reason, lookups: run.lookups, voidLookups: run.voidLookups,
                          queries: run.queries, trace: root.value)
    }

    static func normalized(_ domain: String) -> String {
        var d = domain.lowercased()
        while d.hasSuffix(".") { d.removeLast() }
        return d
    }

    /// Whether a name can be asked at all: labels of 1 to 63 bytes, 253 bytes in all (RFC 1035
    /// §2.3.4). Others are not queried: they match nothing (RFC 7208 §4.3, §4.8).
    static func isQueryable(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy {
            !$0.isEmpty && $0.utf8.count <= 63
        }
    }

    // MARK: - One evaluation

    enum Stop: Error {
        case temperror(String)
        case permerror(String)
    }

    /// The trace as it is built; kept when an error ends the evaluation.
    final class TraceNode {
        var domain: String
        var record: String?
        var note: String?
        var terms: [TermNode] = []
        init(domain: String) { self.domain = domain }
        var value: SPFTrace {
            SPFTrace(domain: domain, record: record, note: note, terms: terms.map(\.value))
        }
    }

    final class TermNode {
        var text: String
        var lookups = 0
        var voidLookups = 0
        var details: [String] = []
        var matched = false
        var child: TraceNode?
        init(text: String) { self.text = text }
        var value: SPFTrace.Term {
            SPFTrace.Term(text: text, lookups: lookups, voidLookups: voidLookups,
                          detail: details.isEmpty ? nil : details.joined(separator: "; "), matched: matched,
                          children: child.map { [$0.value] } ?? [])
        }
    }

    final class Run {
        let evaluator: SPFEvaluator
        let ip: IPAddress?
        let sender: String
        let helo: String
        var lookups = 0
        var voidLookups = 0
        var queries = 0
        private var validated: [String]?

        init(evaluator: SPFEvaluator, ip: IPAddress?, sender: String, helo: String) {
            self.evaluator = evaluator
            self.ip = ip
            self.sender = sender
            self.helo = helo
        }

        var limits: Limits { evaluator.limits }

        /// One query; a temporary failure is returned, not thrown (the caller decides).
        func query(_ name: String, _ type: DNSRecordType) -> DNSLookupResult {
            queries += 1
            return evaluator.resolver.lookup(name, type: type)
        }

        /// A query for a term: a DNS failure ends everything in temperror (§5); no records is a
        /// void lookup (§4.6.4), and a third one is a permerror.
        func termQuery(_ name: String, _ type: DNSRecordType, _ term: TermNode) throws(Stop) -> [DNSRecord] {
            guard SPFEvaluator.isQueryable(name) else {
                term.details.append("\(name) is not a valid name: not looked up")
                return []
            }
            switch query(name, type) {
            case .answer(let answer):
                return answer.records.filter { $0.type == type }
            case .noData, .nameNotFound:
                try void(term, "\(type) \(name): none")
                return []
            case .temporaryFailure(let failure):
                term.details.append("\(type) \(name): \(failure)")
                throw .temperror("the DNS lookup of \(type) \(name) failed (\(failure))")
            }
        }

        func void(_ term: TermNode, _ detail: String) throws(Stop) {
            voidLookups += 1
            term.voidLookups += 1
            term.details.append(detail)
            if voidLookups > limits.voidLookups {
                throw .permerror("more than \(limits.voidLookups) void DNS lookups (names with no records), "
                    + "the limit of RFC 7208 §4.6.4")
            }
        }

        /// Counts a term that queries DNS (§4.6.4).
        func countLookup(_ term: TermNode) throws(Stop) {
            lookups += 1
            term.lookups = 1
            if lookups > limits.dnsLookups {
                term.details.append("lookup \(lookups): over the limit")
                throw .permerror("more than \(limits.dnsLookups) DNS lookups (include, a, mx, ptr, exists, redirect), "
                    + "the limit of RFC 7208 §4.6.4")
            }
        }

        /// The SPF record of `domain` (§4.4, §4.5), nil for none.
        func record(of domain: String, node: TraceNode) throws(Stop) -> String? {
            switch query(domain, .txt) {
            case .temporaryFailure(let failure):
                node.note = "TXT lookup failed: \(failure)"
                throw .temperror("the DNS lookup of TXT \(domain) failed (\(failure))")
            case .nameNotFound:
                node.note = "the name does not exist"
                voidLookups += 1
                return nil
            case .noData:
                node.note = "no TXT record"
                voidLookups += 1
                return nil
            case .answer(let answer):
                let texts = answer.records.compactMap { r -> String? in if case .txt(let t) = r { t } else { nil } }
                let spf = texts.filter(SPFRecord.isSPFRecord)
                if spf.count > 1 {
                    node.note = "\(spf.count) SPF records"
                    throw .permerror("\(domain) has \(spf.count) SPF records; there must be one (RFC 7208 §4.5)")
                }
                if spf.isEmpty {
                    node.note = "no SPF record among \(texts.count) TXT record\(texts.count == 1 ? "" : "s")"
                }
                return spf.first
            }
        }

        /// check_host() for one domain; `stack` holds the domains being evaluated above it.
        func evaluate(domain: String, override: String?, node: TraceNode,
                      stack: [String]) throws(Stop) -> (SPFResult, String) {
            // §4.3: a malformed or single-label domain has no SPF policy.
            guard SPFEvaluator.isQueryable(domain), domain.contains(".") else {
                node.note = "not a valid domain name"
                return (.none, "\(domain) is not a valid domain name")
            }
            let text: String
            if let override {
                text = override
            } else {
                guard let found = try record(of: domain, node: node) else {
                    return (.none, "\(domain) has no SPF record")
                }
                text = found
            }
            node.record = text
            let record: SPFRecord
            do {
                record = try SPFRecord(parsing: text)
            } catch {
                node.note = error.message
                throw .permerror("the SPF record of \(domain) cannot be read: \(error.message)")
            }
            let stack = stack + [domain]
            let context = MacroValues(run: self, domain: domain)
            for (term, termText) in zip(record.terms, record.termTexts) {
                guard case .directive(let qualifier, let mechanism) = term else { continue }
                let t = TermNode(text: termText)
                node.terms.append(t)
                if try matches(mechanism, term: t, domain: domain, context: context, stack: stack) {
                    t.matched = true
                    return (qualifier.result, "\(termText) in the record of \(domain) matched")
                }
            }
            // §6.1: redirect= when no mechanism matched (and there is no "all", which always matches).
            if let redirect = record.redirect, record.allQualifier == nil {
                let t = TermNode(text: "redirect=" + redirect.text)
                node.terms.append(t)
                try countLookup(t)
                let target = SPFEvaluator.normalized(redirect.expandDomain(context.value))
                if stack.contains(target) {
                    t.details.append("loop")
                    throw .permerror("redirect=\(target) loops back to a domain already being evaluated "
                        + "(\(stack.joined(separator: " → ")) → \(target))")
                }
                let child = TraceNode(domain: target)
                t.child = child
                let (result, why) = try evaluate(domain: target, override: nil, node: child, stack: stack)
                if result == .none {
                    throw .permerror("redirect=\(target): \(target) has no SPF record (RFC 7208 §6.1)")
                }
                t.matched = true
                return (result, why)
            }
            return (.neutral, "no term of the record of \(domain) matched (neutral, RFC 7208 §4.7)")
        }

        /// Whether a mechanism matches the address (§5).
        func matches(_ mechanism: SPFMechanism, term t: TermNode, domain: String, context: MacroValues,
                     stack: [String]) throws(Stop) -> Bool {
            func target(_ spec: SPFMacroString?) -> String {
                spec.map { SPFEvaluator.normalized($0.expandDomain(context.value)) } ?? domain
            }
            let addressType: DNSRecordType = ip?.isIPv6 == true ? .aaaa : .a
            switch mechanism {
            case .all:
                return true
            case .ip4(let network, let length), .ip6(let network, let length):
                return ip?.isIn(network, prefixLength: length) ?? false
            case .include(let spec):
                try countLookup(t)
                let name = target(spec)
                if stack.contains(name) {
                    t.details.append("loop")
                    throw .permerror("include:\(name) loops back to a domain already being evaluated "
                        + "(\(stack.joined(separator: " → ")) → \(name))")
                }
                let child = TraceNode(domain: name)
                t.child = child
                if !SPFEvaluator.isQueryable(name) {
                    child.note = "not a valid domain name"
                    throw .permerror("include:\(name): not a valid domain name")
                }
                let (result, _) = try evaluate(domain: name, override: nil, node: child, stack: stack)
                switch result {
                case .pass: return true
                case .fail, .softfail, .neutral: return false
                case .none:
                    throw .permerror("include:\(name): \(name) has no SPF record (RFC 7208 §5.2)")
                case .temperror, .permerror:
                    return false  // thrown below the include already
                }
            case .a(let spec, let cidr):
                try countLookup(t)
                let name = target(spec)
                let addresses = try termQuery(name, addressType, t)
                if !addresses.isEmpty { t.details.append("\(addressType) \(name): " + list(addresses)) }
                return contains(addresses, cidr)
            case .mx(let spec, let cidr):
                try countLookup(t)
                let name = target(spec)
                let exchanges = try termQuery(name, .mx, t).compactMap { r -> (UInt16, String)? in
                    if case .mx(let p, let e) = r { (p, e) } else { nil }
                }.sorted { $0.0 < $1.0 }
                // §4.6.4: more than 10 MX records is a permerror.
                if exchanges.count > limits.mxNames {
                    t.details.append("MX \(name): \(exchanges.count) names")
                    throw .permerror("mx:\(name) has \(exchanges.count) MX records; SPF allows at most "
                        + "\(limits.mxNames) (RFC 7208 §4.6.4)")
                }
                if !exchanges.isEmpty { t.details.append("MX \(name): " + exchanges.map(\.1).joined(separator: ", ")) }
                for (_, exchange) in exchanges {
                    let host = SPFEvaluator.normalized(exchange)
                    guard !host.isEmpty else { continue }  // "." : a null MX (RFC 7505)
                    let addresses = try termQuery(host, addressType, t)
                    if !addresses.isEmpty { t.details.append("\(addressType) \(host): " + list(addresses)) }
                    if contains(addresses, cidr) { return true }
                }
                return false
            case .ptr(let spec):
                try countLookup(t)
                let name = target(spec)
                let names = try validatedNames(t)
                return names.contains { $0 == name || $0.hasSuffix("." + name) }
            case .exists(let spec):
                try countLookup(t)
                let name = target(spec)
                // §5.7: always an A query, whatever the address family.
                let found = try termQuery(name, .a, t)
                if !found.isEmpty { t.details.append("A \(name): " + list(found)) }
                return ip != nil && !found.isEmpty
            }
        }

        func list(_ records: [DNSRecord]) -> String {
            let shown = records.prefix(4).map(\.description).joined(separator: ", ")
            return records.count > 4 ? shown + " and \(records.count - 4) more" : shown
        }

        func contains(_ records: [DNSRecord], _ cidr: SPFDualCIDR) -> Bool {
            guard let ip else { return false }
            return records.contains { r in
                switch r {
                case .a(let b), .aaaa(let b):
                    guard let network = IPAddress(bytes: b) else { return false }
                    return ip.isIn(network, prefixLength: cidr.length(for: ip))
                default: return false
                }
            }
        }

        /// The validated names of the address (§5.5): its PTR names (the first 10), each kept when
        /// one of its own addresses is the address. A DNS failure of the PTR lookup matches
        /// nothing; one of an address lookup skips that name.
        func validatedNames(_ t: TermNode?) throws(Stop) -> [String] {
            if let validated { return validated }
            guard let ip else { validated = []; return [] }
            var names: [String] = []
            let reverse = ip.reverseName
            switch query(reverse, .ptr) {
            case .answer(let answer):
                names = answer.records.compactMap { r in
                    if case .ptr(let n) = r { SPFEvaluator.normalized(n) } else { nil }
                }
            case .noData, .nameNotFound:
                if let t { try void(t, "PTR \(reverse): none") } else { voidLookups += 1 }
            case .temporaryFailure(let failure):
                t?.details.append("PTR \(reverse): \(failure)")
            }
            var result: [String] = []
            for name in names.prefix(limits.ptrNames) where SPFEvaluator.isQueryable(name) {
                if case .answer(let answer) = query(name, ip.isIPv6 ? .aaaa : .a),
                   answer.records.contains(where: { r in
                       switch r {
                       case .a(let b), .aaaa(let b): IPAddress(bytes: b) == ip
                       default: false
                       }
                   }) {
                    result.append(name)
                }
            }
            t?.details.append("validated names: " + (result.isEmpty ? "none" : result.joined(separator: ", ")))
            validated = result
            return result
        }

        /// The `p` macro (§7.3): a validated name equal to or under the domain, else the first
        /// validated name, else "unknown".
        func pMacro(domain: String) -> String {
            guard let names = try? validatedNames(nil) else { return "unknown" }
            if names.contains(domain) { return domain }
            return names.first { $0.hasSuffix("." + domain) } ?? names.first ?? "unknown"
        }
    }

    /// The values of the macro letters for one domain being evaluated (RFC 7208 §7.2).
    struct MacroValues {
        let run: Run
        let domain: String

        func value(_ letter: Character) -> String {
            let sender = run.sender
            let at = sender.lastIndex(of: "@")
            let local = at.map { String(sender[..<$0]) } ?? ""
            let senderDomain = at.map { String(sender[sender.index(after: $0)...]) } ?? sender
            // Without an address (the worst-case walk), a documentation address stands in (RFC 5737).
            let ip = run.ip ?? IPAddress(bytes: [192, 0, 2, 0])!
            switch letter {
            case "s": return sender
            case "l": return local.isEmpty ? "postmaster" : local
            case "o": return senderDomain
            case "d": return domain
            case "i": return ip.macroText
            case "c": return ip.description
            case "v": return ip.macroVersion
            case "h": return run.helo
            case "p": return run.ip == nil ? "unknown" : run.pMacro(domain: domain)
            default: return ""
            }
        }
    }
}
