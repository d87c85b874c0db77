internal import CMilter
import DKIM
import DKIMMilterCore
import Foundation
import Logging

/// The milter's swift-log handler: one line per event, to standard error (journald under
/// systemd) or to syslog's mail facility, as readable text or as one JSON object per line.
///
/// Text: `dkim-milter: MESSAGE` on standard error, `MESSAGE` in syslog, as before. JSON (`LogFormat
/// json`): `{"time":…,"level":…,"message":…}` plus, for a message's outcome, every field of
/// `MessageOutcome.JSONRecord` (README "Log fields"). Untrusted text is escaped before it gets
/// here (`Printable`, and JSON's own escaping), so a line never breaks in two.
public struct MilterLogHandler: LogHandler {
    public enum Destination: Sendable { case standardError, syslog }
    public enum Format: String, Sendable, CaseIterable { case text, json }

    /// The outcome of a message, carried in the metadata under `outcome` so the JSON format can
    /// write its fields rather than the text line.
    public struct OutcomeRecord: CustomStringConvertible, Sendable {
        public let fields: JSONLine
        public var description: String { fields.text }
    }

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public let destination: Destination
    public let format: Format
    /// Where standard-error lines go (a test's pipe, say); nil: straight to file descriptor 2.
    private let write: (@Sendable (String) -> Void)?

    public init(destination: Destination, format: Format, level: Logger.Level,
                write: (@Sendable (String) -> Void)? = nil) {
        self.destination = destination
        self.format = format
        self.logLevel = level
        if destination == .syslog { openlog("dkim-milter", LOG_PID, LOG_MAIL) }
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String,
                    file: String, function: String, line: UInt) {
        if format == .json, destination == .standardError, write == nil {
            // The per-message path: the object's bytes go out as they are, with no String between.
            let line = Self.json(level: level, message: message.description, metadata: metadata, extra: extra)
            Self.writeToStandardError(line.line())
            return
        }
        let text: String
        switch format {
        case .text:
            text = destination == .syslog ? message.description : "dkim-milter: \(message)"
        case .json:
            text = Self.json(level: level, message: message.description, metadata: metadata, extra: extra).text
        }
        switch destination {
        case .standardError:
            if let write { write(text) } else { Self.writeToStandardError(Array((text + "\n").utf8)) }
        case .syslog:
            cmilter_syslog(Self.priority(level), text)
        }
    }

    /// One line to file descriptor 2 in one write(2) (retried when interrupted or short), so
    /// lines from several connections never interleave.
    static func writeToStandardError(_ line: [UInt8]) {
        line.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(2, raw.baseAddress! + offset, raw.count - offset)
                if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
            }
        }
    }

    static func priority(_ level: Logger.Level) -> Int32 {
        switch level {
        case .trace, .debug: LOG_DEBUG
        case .info: LOG_INFO
        case .notice: LOG_NOTICE
        case .warning: LOG_WARNING
        case .error: LOG_ERR
        case .critical: LOG_CRIT
        }
    }

    /// The time now as RFC 3339 UTC with milliseconds, e.g. 2026-12-01T10:00:00.123Z.
    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = tm()
        var seconds = ts.tv_sec
        gmtime_r(&seconds, &t)
        var b: [UInt8] = []
        b.reserveCapacity(24)
        func two(_ n: Int32) { b.append(UInt8(0x30 + n / 10)); b.append(UInt8(0x30 + n % 10)) }
        let year = t.tm_year + 1900
        two(year / 100); two(year % 100); b.append(0x2D); two(t.tm_mon + 1); b.append(0x2D); two(t.tm_mday)
        b.append(0x54); two(t.tm_hour); b.append(0x3A); two(t.tm_min); b.append(0x3A); two(t.tm_sec)
        let ms = Int32(ts.tv_nsec / 1_000_000)
        b.append(0x2E); b.append(UInt8(0x30 + ms / 100)); two(ms % 100); b.append(0x5A)
        return String(decoding: b, as: UTF8.self)
    }

    /// `{"time":…,"level":…,"message":…, …}`: the outcome's fields spliced in, other metadata as
    /// strings sorted by key (the handler's own, then the call's, which win).
    static func json(level: Logger.Level, message: String, metadata: Logger.Metadata,
                     extra: Logger.Metadata?) -> JSONLine {
        var line = JSONLine(capacity: 1024)
        line.add("time", timestamp())
        line.add("level", level.rawValue)
        line.add("message", message)
        var outcome: OutcomeRecord?
        if metadata.isEmpty, let extra, extra.count == 1, case .stringConvertible(let v) = extra["outcome"],
           let record = v as? OutcomeRecord {
            // The per-message case: nothing else to merge or sort.
            outcome = record
        } else {
            var all = metadata
            if let extra { all.merge(extra) { $1 } }
            for (k, v) in all.sorted(by: { $0.key < $1.key }) where k != "outcome" { line.add(k, "\(v)") }
            if case .stringConvertible(let value) = all["outcome"] { outcome = value as? OutcomeRecord }
        }
        if let outcome { line.add(fieldsOf: outcome.fields) }
        return line
    }
}
