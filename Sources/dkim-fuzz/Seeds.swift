import DKIM
import Foundation

/// Seed inputs for every target, made from the conformance corpus (Tests/Fixtures/corpus).
enum FuzzSeeds {
    /// Larger messages slow every execution down; the small ones cover the same code.
    static let maximumMessageSize = 16 * 1024

    static func write(fixtures dir: String, to out: String) throws {
        let fm = FileManager.default
        var seeds: [String: [[UInt8]]] = [:]
        func add(_ target: String, _ bytes: [UInt8]) { seeds[target, default: []].append(bytes) }

        let keysText = try String(contentsOfFile: dir + "/keys.txt", encoding: .utf8)
        var keyLines: [String: String] = [:]
        for line in keysText.split(separator: "\n") where !line.hasPrefix("#") {
            let cols = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard cols.count >= 2 else { continue }
            keyLines[cols[0].lowercased(), default: ""] += line + "\n"
            add("key-record", Array(cols[1].utf8))
            add("tag-list", Array(cols[1].utf8))
        }

        for sub in ["messages", "messages-lf"] {
            let files = ((try? fm.contentsOfDirectory(atPath: dir + "/" + sub)) ?? []).sorted().filter { $0.hasSuffix(".eml") }
            for file in files {
                guard let data = fm.contents(atPath: dir + "/" + sub + "/" + file), data.count <= maximumMessageSize else { continue }
                let message = Array(data)
                let (headers, body) = fieldsAndBody(message)

                add("message", [MessageParser.LineEndings.detect(in: message) == .lf ? 1 : 0, 63] + message)
                guard sub == "messages" else { continue }
                add("body", [0, UInt8(body.count / 2 % 256), 15, 255] + body)

                var records = ""
                for f in headers where f.hasName("dkim-signature") {
                    add("tag-list", Array(f.rawValue))
                    if let sig = try? DKIMSignature(parsing: f), records.isEmpty || !records.contains(sig.keyQueryName) {
                        records += keyLines[sig.keyQueryName] ?? ""
                    }
                }
                add("verify", Array(records.utf8) + [0] + message)
                add("milter", milterSeed(headers: headers, body: body, signing: false))
                if headers.filter({ $0.hasName("dkim-signature") }).isEmpty {
                    add("milter", milterSeed(headers: headers, body: body, signing: true))
                }
            }
        }
        let signing = ((try? fm.contentsOfDirectory(atPath: dir + "/signing")) ?? []).sorted().filter { $0.hasSuffix(".eml") }
        for file in signing.prefix(10) {
            guard let data = fm.contents(atPath: dir + "/signing/" + file), data.count <= maximumMessageSize else { continue }
            let (headers, body) = fieldsAndBody(Array(data))
            add("milter", milterSeed(headers: headers, body: body, signing: true))
        }

        for target in FuzzTargets.names {
            let path = out + "/" + target
            try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
            var n = 0
            for s in seeds[target] ?? [] {
                n += 1
                try Data(s).write(to: URL(fileURLWithPath: path + "/seed-\(n)"))
            }
            print("\(target): \(n) seeds in \(path)")
        }
    }

    /// The header fields and the body of a message, as the parser gives them (what it could
    /// read, for a message it refuses).
    static func fieldsAndBody(_ message: [UInt8]) -> (headers: [HeaderField], body: [UInt8]) {
        var headers: [HeaderField] = []
        var body: [UInt8] = []
        try? MessageParser.parseWhole(message) { event in
            switch event {
            case .header(let f): headers.append(f)
            case .endOfHeaders: break
            case .body(let b): body.append(contentsOf: b)
            }
        }
        return (headers, body)
    }

    /// The event stream `FuzzTargets.milter` decodes, as libmilter would deliver the message:
    /// header values with LF folding, the body in chunks.
    static func milterSeed(headers: [HeaderField], body: [UInt8], signing: Bool) -> [UInt8] {
        typealias Op = FuzzTargets.Op
        func payload(_ b: [UInt8]) -> [UInt8] {
            let n = min(b.count, 0xFFFF)
            return [UInt8(n >> 8), UInt8(n & 0xFF)] + b.prefix(n)
        }
        var out: [UInt8] = [Op.connect.rawValue, signing ? 0 : 1, Op.envelopeFrom.rawValue, signing ? 2 : 4]
        for f in headers {
            let name = Array(f.name.utf8)
            let value = f.rawValue.filter { $0 != 0x0D }
            out += [Op.header.rawValue] + payload(name + [UInt8(ascii: ":")] + value)
        }
        out.append(Op.endOfHeaders.rawValue)
        var i = 0
        while i < body.count {
            let j = min(body.count, i + 4096)
            out += [Op.body.rawValue] + payload(Array(body[i..<j]))
            i = j
        }
        out += [Op.endOfMessage.rawValue, 4]
        return out
    }
}
