import DKIM
import DKIMMilterCore
import DKIMOpenSSL
import DKIMTestSupport
import Foundation

/// The fuzz targets. Each takes one input and crashes (precondition) when an invariant breaks;
/// errors thrown by the code under test are expected results, not findings.
enum FuzzTargets {
    static let names = ["tag-list", "message", "key-record", "body", "verify", "milter"]

    static func run(_ name: String, _ data: [UInt8]) {
        switch name {
        case "tag-list": tagList(data)
        case "message": message(data)
        case "key-record": keyRecord(data)
        case "body": body(data)
        case "verify": verify(data)
        case "milter": milter(data)
        default: preconditionFailure("unknown fuzz target \(name)")
        }
    }

    static let now = 1_764_000_060
    static let crypto = OpenSSLCryptoProvider()

    // MARK: (1) tag list, and DKIM-Signature on top of it

    static func tagList(_ data: [UInt8]) {
        checkTagList(data, range: nil)
        if data.count > 2 {
            // A sub-range, as the verifier parses a field value inside the whole field.
            let lo = Int(data[0]) % data.count
            checkTagList(data, range: lo..<data.count)
        }
        _ = TagList.lenientValues(data, range: data.indices)
    }

    private static func checkTagList(_ data: [UInt8], range: Range<Int>?) {
        guard let list = try? TagList(parsing: data, range: range) else { return }
        let r = range ?? data.indices
        var names = Set<String>()
        for t in list.tags {
            precondition(names.insert(t.name).inserted, "duplicate tag \(t.name) accepted")
            precondition(r.lowerBound <= t.valueStart && t.valueStart <= t.valueRange.lowerBound,
                         "valueStart out of order")
            precondition(t.valueRange.upperBound <= t.specEnd && t.specEnd <= r.upperBound, "specEnd out of range")
            precondition(list[t.name] == t.value)
        }
        if let sig = try? DKIMSignature(parsing: list) {
            _ = sig.keyQueryName
            _ = sig.identityDomain
        }
    }

    // MARK: (2) message parser and header fields

    private struct Parsed: Equatable {
        var headers: [[UInt8]] = []
        var body: [UInt8] = []
        var sawEnd = false
        var error: String?
    }

    private static func parse(_ bytes: [UInt8], chunk: Int, maxBytes: Int, maxFields: Int) -> Parsed {
        var parser = MessageParser(maximumHeaderBytes: maxBytes, maximumHeaderFields: maxFields)
        var out = Parsed()
        func handle(_ e: MessageParser.Event) {
            switch e {
            case .header(let f):
                precondition(!out.sawEnd, "header after end of headers")
                out.headers.append(f.bytes)
            case .endOfHeaders:
                precondition(!out.sawEnd, "two ends of headers")
                out.sawEnd = true
            case .body(let b):
                precondition(out.sawEnd, "body before end of headers")
                out.body.append(contentsOf: b)
            }
        }
        do {
            var i = 0
            while i < bytes.count {
                let j = min(bytes.count, i + chunk)
                try parser.parse(Array(bytes[i..<j]), handle)
                i = j
            }
            try parser.finish(handle)
            precondition(out.sawEnd, "finish without end of headers")
        } catch {
            out.error = "\(error)"
        }
        return out
    }

    static func message(_ data: [UInt8]) {
        guard data.count >= 2 else { return }
        let control = data[0]
        let chunk = Int(data[1]) + 1
        let bytes = Array(data[2...])
        let maxBytes = control & 2 == 0 ? 16 << 20 : 64
        let maxFields = control & 4 == 0 ? 100_000 : 3
        let whole = parse(bytes, chunk: max(1, bytes.count), maxBytes: maxBytes, maxFields: maxFields)
        let chunked = parse(bytes, chunk: chunk, maxBytes: maxBytes, maxFields: maxFields)
        precondition((whole.error == nil) == (chunked.error == nil), "chunking changed the outcome")
        if whole.error == nil {
            precondition(whole == chunked, "chunking changed the parsed message")
        }
        _ = MessageParser.LineEndings.detect(in: bytes)
        for raw in whole.headers {
            let f = HeaderField(bytes: raw)
            _ = f.name
            _ = f.unfoldedValue
            _ = f.rawValue
            precondition(f.hasName(f.lowercasedName))
            _ = Canonicalization.relaxed.canonicalizedHeader(f)
            _ = Canonicalization.simple.canonicalizedHeader(f, terminated: false)
            if f.hasName("from") {
                _ = EmailAddress.domain(ofFromValue: f.unfoldedValue)
                _ = EmailAddress.address(ofFromValue: f.unfoldedValue)
            }
            if f.hasName("dkim-signature"), let sig = try? DKIMSignature(parsing: f) {
                _ = sig.keyQueryName
            }
        }
    }

    // MARK: (3) key record

    static func keyRecord(_ data: [UInt8]) {
        let text = String(decoding: data, as: UTF8.self)
        guard let record = try? KeyRecord(parsing: text) else { return }
        // What we would publish for it must parse back to the same key.
        let again: KeyRecord
        do {
            again = try KeyRecord(parsing: record.txtValue)
        } catch {
            preconditionFailure("txtValue \(record.txtValue) does not parse: \(error)")
        }
        var expected = record
        expected.notes = nil
        precondition(again == expected, "txtValue round trip changed the record")
        if record.txtValue.utf8.allSatisfy({ $0 < 0x80 }) {
            precondition(record.txtStrings.joined() == record.txtValue)
        }
        _ = record.zoneFileLine(selector: "s", domain: "example.com")
        if !record.isRevoked {
            _ = try? crypto.verifyingKey(type: record.keyType, publicKeyData: record.publicKeyData)
        }
    }

    // MARK: (4) body canonicalization: chunking must not matter, and must match a reference

    /// A digest that keeps the bytes: equal outputs ⇔ equal hashes, and a mismatch is readable.
    struct Collecting: IncrementalDigest {
        var bytes: [UInt8] = []
        mutating func update(_ b: UnsafeRawBufferPointer) { bytes.append(contentsOf: b) }
        mutating func finalize() -> [UInt8] { bytes }
    }

    static func body(_ data: [UInt8]) {
        guard data.count >= 4 else { return }
        let split = Int(data[0]) << 8 | Int(data[1])
        let chunkSize = Int(data[2]) + 1
        let limitByte = Int(data[3])
        let input = Array(data[4...])
        let cut = input.isEmpty ? 0 : split % (input.count + 1)
        for algorithm in Canonicalization.allCases {
            var whole = BodyHasher(algorithm, digest: Collecting())
            whole.update(input)
            let expected = whole.finalize()

            // Split at the chosen point, then the rest in chunks of the chosen size.
            var pieces = BodyHasher(algorithm, digest: Collecting())
            pieces.update(Array(input[..<cut]))
            var i = cut
            while i < input.count {
                let j = min(input.count, i + chunkSize)
                pieces.update(Array(input[i..<j]))
                i = j
            }
            let got = pieces.finalize()
            precondition(got == expected,
                         "\(algorithm): split at \(cut), chunks of \(chunkSize): canonical body differs")
            precondition(pieces.canonicalLength == expected.count && whole.canonicalLength == expected.count)

            let reference = ReferenceBodyCanonicalization.canonical(input, algorithm)
            precondition(expected == reference, "\(algorithm): canonical body differs from the RFC 6376 reference")

            // l=: the hashed bytes are the prefix.
            var limited = BodyHasher(algorithm, lengthLimit: limitByte, digest: Collecting())
            limited.update(input)
            precondition(limited.finalize() == Array(expected.prefix(limitByte)),
                         "\(algorithm): l=\(limitByte) is not a prefix")

            // The real SHA-256, whole versus split.
            var h1 = BodyHasher(algorithm, digest: crypto.makeSHA256())
            h1.update(input)
            var h2 = BodyHasher(algorithm, digest: crypto.makeSHA256())
            h2.update(Array(input[..<cut]))
            h2.update(Array(input[cut...]))
            precondition(h1.finalize() == h2.finalize(), "\(algorithm): SHA-256 body hash depends on the split")
        }
    }

    // MARK: (5) full verification: RECORDS-FILE NUL MESSAGE

    static func verify(_ data: [UInt8]) {
        let sep = data.firstIndex(of: 0) ?? 0
        let recordsText = String(decoding: data[..<sep], as: UTF8.self)
        let message = sep < data.count ? Array(data[(sep + 1)...]) : data
        let resolver = (try? StaticTXTResolver(parsingRecordsFile: recordsText)) ?? StaticTXTResolver()
        let verifier = DKIMVerifier(resolver: resolver, crypto: crypto)
        guard let v = try? verifier.verify(message: message, now: now) else { return }
        for (n, s) in v.signatures.enumerated() {
            precondition(s.index == n + 1, "signature indexes are not 1, 2, …")
            _ = s.reason
        }
        _ = v.fromDomain
        _ = AuthenticationResults.value(authservID: "mx.example.org", results: v.signatures)
    }

    // MARK: (6) the milter state machine

    nonisolated(unsafe) static var milterPolicy: MilterPolicy?

    static func policy() -> MilterPolicy {
        if let p = milterPolicy { return p }
        let dir = ProcessInfo.processInfo.environment["DKIM_FUZZ_FIXTURES"] ?? "Tests/Fixtures/corpus"
        var keys: [SigningKey] = []
        for (file, selector) in [("rsa2048a.pem", "sr2048a"), ("ed25519a.pem", "seda")] {
            if let text = try? String(contentsOfFile: dir + "/keys/" + file, encoding: .utf8),
               let key = try? PrivateKey(pemOrSeed: text) {
                keys.append(SigningKey(domain: "example.com", selector: selector, key: key, path: file))
            }
        }
        if keys.isEmpty, let key = try? PrivateKey(ed25519Seed: Array(repeating: 7, count: 32)) {
            keys.append(SigningKey(domain: "example.com", selector: "fuzz", key: key, path: "fuzz"))
        }
        let records = (try? String(contentsOfFile: dir + "/keys.txt", encoding: .utf8))
            .flatMap { try? StaticTXTResolver(parsingRecordsFile: $0) } ?? StaticTXTResolver()
        var c = MilterConfiguration()
        c.authservID = "mx.example.org"
        c.signingDaemonNames = ["ORIGINATING"]
        let p = MilterPolicy(configuration: c, keys: KeyStore.byDomain(keys), resolver: records, crypto: crypto,
                             authservID: "mx.example.org", now: { now })
        milterPolicy = p
        var published: [String: TXTLookupResult] = [:]
        for k in keys {
            published["\(k.selector)._domainkey.\(k.domain)"] =
                .records([KeyRecord(keyType: k.key.keyType, publicKeyData: k.key.publicKeyData).txtValue])
        }
        signingKeys = StaticTXTResolver(published)
        return p
    }

    /// How many messages the milter signed and the harness verified (reported by `replay`).
    nonisolated(unsafe) static var signedMessagesChecked = 0

    /// The public keys of the milter's signing keys, to check what it signs.
    nonisolated(unsafe) static var signingKeys = StaticTXTResolver()

    static let clients: [(String?, String?)] = [
        ("localhost", "127.0.0.1"), ("mx.other.org", "192.0.2.1"), (nil, nil), ("[::1]", "::1"), ("h", nil),
    ]

    /// Event opcodes of the milter input (see `milterSeed`).
    enum Op: UInt8 {
        case connect = 0, envelopeFrom, header, endOfHeaders, body, endOfMessage, abort, macros
    }

    static func milter(_ data: [UInt8]) {
        let session = MilterSession(policy: policy())
        var i = 0
        func byte() -> UInt8? {
            guard i < data.count else { return nil }
            defer { i += 1 }
            return data[i]
        }
        func payload() -> [UInt8] {
            let hi = Int(byte() ?? 0), lo = Int(byte() ?? 0)
            let n = min(hi << 8 | lo, data.count - i)
            defer { i += n }
            return Array(data[i..<(i + n)])
        }
        func macros(_ bits: UInt8) -> [String: String] {
            var m: [String: String] = [:]
            if bits & 1 != 0 { m["{auth_authen}"] = "alice" }
            if bits & 2 != 0 { m["{daemon_name}"] = "ORIGINATING" }
            if bits & 4 != 0 { m["i"] = "QID" }
            if bits & 8 != 0 { m["{auth_type}"] = "PLAIN" }
            return m
        }
        // The message as the MTA holds it, while the events come in the order an MTA sends them.
        var message = MessageSoFar()
        var lookups: [String] = []
        var steps = 0
        while let b = byte(), steps < 10_000 {
            steps += 1
            switch Op(rawValue: b % 8)! {
            case .connect:
                let c = clients[Int(byte() ?? 0) % clients.count]
                _ = session.connect(hostname: c.0, address: c.1)
                message = MessageSoFar()
            case .envelopeFrom:
                _ = session.envelopeFrom(macros: macros(byte() ?? 0))
                message = MessageSoFar()
                message.state = .headers
            case .header:
                let p = payload()
                let colon = p.firstIndex(of: UInt8(ascii: ":")) ?? p.count
                let name = String(decoding: p[..<colon], as: UTF8.self)
                let value = colon < p.count ? Array(p[(colon + 1)...]) : []
                _ = session.header(name: name, value: value)
                message.header(name: Array(p[..<colon]), value: value)
            case .endOfHeaders:
                if case .lookUp(let names) = session.endOfHeaders() { lookups = names }
                message.state = message.state == .headers ? .body : .broken
            case .body:
                let p = payload()
                _ = session.body(p)
                if message.state == .body { message.body += p } else { message.state = .broken }
            case .endOfMessage:
                var answers: [String: TXTLookupResult] = [:]
                for name in lookups { answers[name] = signingKeys.lookupTXT(name) }
                lookups = []
                let (actions, outcome) = session.endOfMessage(macros: macros(byte() ?? 0), keys: answers)
                var signatures: [String] = []
                var deletions = 0
                for m in actions.modifications {
                    if case .insert(let index, let name, let value) = m {
                        precondition(index == 0 && (name == "DKIM-Signature" || name == "Authentication-Results"))
                        if name == "DKIM-Signature" { signatures.append(value) }
                    } else {
                        deletions += 1
                    }
                }
                // The outcome says what the actions do.
                precondition((outcome.decision == .signed) == !signatures.isEmpty, "outcome and signatures disagree")
                precondition(outcome.signaturesMade.count == signatures.count, "outcome counts other signatures")
                precondition(outcome.forgedResultsRemoved == deletions, "outcome counts other removals")
                // An MTA sends the body as SMTP carried it: every line ends in CRLF (RFC 5321 §2.3.8).
                // A bare LF is read as a line end by the verifier (RFC 6376 §5.3), not by the milter.
                if message.state == .body && !signatures.isEmpty && !hasBareLF(message.body) {
                    checkSigned(message, signatures)
                }
                message = MessageSoFar()
            case .abort:
                session.abort()
                lookups = []
                message = MessageSoFar()
            case .macros:
                session.addMacros(macros(byte() ?? 0))
            }
        }
    }

    /// One message as the MTA has it: header fields as sent, the body.
    struct MessageSoFar {
        enum State { case none, headers, body, broken }
        var state = State.none
        var headers: [UInt8] = []
        var body: [UInt8] = []

        /// A field an MTA could have sent: a printable name, a value whose line breaks are folds.
        mutating func header(name: [UInt8], value: [UInt8]) {
            guard state == .headers else { state = .broken; return }
            let nameOK = !name.isEmpty && name.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }
            var valueOK = !value.contains(0x0D) && !value.contains(0) && value.last != 0x0A
            for (i, b) in value.enumerated() where b == 0x0A {
                if i + 1 >= value.count || (value[i + 1] != 0x20 && value[i + 1] != 0x09) { valueOK = false }
            }
            guard nameOK && valueOK else { state = .broken; return }
            headers += name + [UInt8(ascii: ":")] + crlf(value) + [0x0D, 0x0A]
        }
    }

    static func hasBareLF(_ bytes: [UInt8]) -> Bool {
        bytes.indices.contains { bytes[$0] == 0x0A && ($0 == 0 || bytes[$0 - 1] != 0x0D) }
    }

    static func crlf(_ value: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for b in value {
            if b == 0x0A { out.append(0x0D) }
            out.append(b)
        }
        return out
    }

    /// What the milter signed must verify: the signatures it inserted, on top, all pass.
    static func checkSigned(_ m: MessageSoFar, _ signatures: [String]) {
        signedMessagesChecked += 1
        var bytes: [UInt8] = []
        for s in signatures.reversed() {  // each was inserted at the top: the last one ends first
            bytes += Array("DKIM-Signature:".utf8) + crlf(Array(s.utf8)) + [0x0D, 0x0A]
        }
        bytes += m.headers + [0x0D, 0x0A] + m.body
        let verifier = DKIMVerifier(resolver: signingKeys, crypto: crypto)
        let results: [SignatureVerification]
        do {
            results = try verifier.verify(message: bytes, now: now + 60).signatures
        } catch {
            preconditionFailure("the message the milter signed does not verify: \(error)")
        }
        for r in results.prefix(signatures.count) {
            precondition(r.result.isPass, "the milter's own signature \(r.index) does not verify: \(r.reason)")
        }
    }
}
