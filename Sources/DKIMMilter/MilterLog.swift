import DKIMMilterCore
import Logging

/// Where the milter's lines go, through swift-log: standard error or syslog (mail facility),
/// text or JSON (`MilterLogHandler`), at the configured level.
public struct MilterLog: Sendable {
    public let logger: Logger
    /// SyslogSuccess: a line for every message, not only for failures.
    public let logSuccess: Bool
    public let format: MilterLogHandler.Format

    public init(destination: MilterLogHandler.Destination, format: MilterLogHandler.Format = .text,
                level: Logger.Level = .info, logSuccess: Bool = true, write: (@Sendable (String) -> Void)? = nil) {
        self.format = format
        self.logSuccess = logSuccess
        logger = Logger(label: "dkim-milter") { _ in
            MilterLogHandler(destination: destination, format: format, level: level, write: write)
        }
    }

    /// The log for a configuration: Syslog, LogFormat, LogLevel, SyslogSuccess.
    public init(configuration c: MilterConfiguration) {
        self.init(destination: c.syslog ? .syslog : .standardError,
                  format: MilterLogHandler.Format(rawValue: c.logFormat) ?? .text,
                  level: Logger.Level(rawValue: c.logLevel) ?? .info, logSuccess: c.syslogSuccess)
    }

    public func info(_ message: String) { logger.info("\(message)") }
    public func warning(_ message: String) { logger.warning("\(message)") }
    public func error(_ message: String) { logger.error("\(message)") }

    /// One line for a message's outcome: its text line, and in JSON its fields. A failure is
    /// logged as an error even without SyslogSuccess.
    public func outcome(_ outcome: MessageOutcome) {
        let failed = outcome.decision == .failed
        guard logSuccess || failed else { return }
        let metadata: Logger.Metadata? = format == .json
            ? ["outcome": .stringConvertible(MilterLogHandler.OutcomeRecord(fields: outcome.jsonObject))] : nil
        logger.log(level: failed ? .error : .info, "\(outcome.logLine)", metadata: metadata)
    }
}
