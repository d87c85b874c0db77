import DKIMPolicy
import Foundation

extension DoctorReport {
    /// One JSON object on one line: domain, passed, queries, findings (area, check, status,
    /// subject, message, details, publish: {name, type, value} or null), receivers.
    public func json() -> String {
        struct Finding: Encodable {
            var f: DoctorFinding
            enum K: String, CodingKey { case area, check, status, subject, message, details, publish }
            struct Record: Encodable { var name: String; var type: String; var value: String }
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: K.self)
                try c.encode(f.area.rawValue, forKey: .area)
                try c.encode(f.check, forKey: .check)
                try c.encode(f.status.rawValue, forKey: .status)
                try c.encode(f.subject, forKey: .subject)
                try c.encode(f.message, forKey: .message)
                try c.encode(f.details, forKey: .details)
                try c.encode(f.publish.map { Record(name: $0.name, type: $0.type, value: $0.value) }, forKey: .publish)
            }
        }
        struct Row: Encodable {
            var receiver, spf, dkim, dmarc, aligned, note, next_step: String
            var meets_rules: Bool
        }
        struct Object: Encodable {
            var domain: String
            var passed: Bool
            var queries: Int
            var findings: [Finding]
            var receivers: [Row]
        }
        let object = Object(domain: domain, passed: passed, queries: queries, findings: findings.map(Finding.init),
                            receivers: receivers.map {
                                Row(receiver: $0.receiver, spf: $0.spf.rawValue, dkim: $0.dkim.rawValue,
                                    dmarc: $0.dmarc.rawValue, aligned: $0.aligned, note: $0.note,
                                    next_step: $0.nextStep, meets_rules: $0.meetsRules)
                            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(object)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
