import Foundation
import Glibc

/// What one test (or one benchmark run) starts, in one temporary folder: Postfix instances,
/// smtp-sinks and whatever else is registered with `onTearDown`. `tearDown` stops it all, in
/// reverse order, by pid, and removes the folder.
public final class Lab {
    public let directory: String
    private var stops: [() -> Void] = []

    public init() throws {
        directory = try Fixtures.makeTemporaryDirectory()
        // Postfix's daemons (user postfix) must reach the queue directories below.
        chmod(directory, 0o755)
    }

    /// Registers what stops something the caller started here (run by `tearDown`, last first).
    public func onTearDown(_ stop: @escaping () -> Void) {
        stops.append(stop)
    }

    public func tearDown() {
        for stop in stops.reversed() { stop() }
        stops = []
        // POSTFIX_E2E_KEEP=1 keeps the folder (configurations, maillog, sink dumps) for a look.
        if ProcessInfo.processInfo.environment["POSTFIX_E2E_KEEP"] == nil {
            Fixtures.removeTemporaryDirectory(directory)
        } else {
            FileHandle.standardError.write(Data("Lab: kept \(directory)\n".utf8))
        }
    }

    public func write(_ bytes: [UInt8], name: String) throws -> String {
        let path = directory + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    public func sink(port: Int) throws -> SMTPSink {
        let sink = try SMTPSink(directory: directory + "/sink", port: port)
        onTearDown { sink.stop() }
        return sink
    }

    /// A started Postfix instance named `name` (its folder `postfix-NAME`) on `port`, relaying to
    /// 127.0.0.1:`next`, with `milter` (Postfix's notation: `inet:127.0.0.1:PORT`, `unix:/path`)
    /// as its smtpd and non-smtpd milter and the default action tempfail.
    public func postfix(_ name: String, port: Int, relayTo next: Int, milter: String? = nil,
                        extra: [String: String] = [:]) throws -> Postfix {
        var settings = extra
        if let milter {
            settings["smtpd_milters"] = milter
            settings["non_smtpd_milters"] = milter
            settings["milter_default_action"] = "tempfail"
        }
        let postfix = try Postfix(directory: directory + "/postfix-" + name, name: name, port: port,
                                  relayhost: "[127.0.0.1]:\(next)", settings: settings)
        onTearDown { postfix.stop() }
        try postfix.start()
        return postfix
    }

    /// The same, with a milter on 127.0.0.1:`milterPort`.
    public func postfix(_ name: String, port: Int, relayTo next: Int, milterPort: Int?,
                        extra: [String: String] = [:]) throws -> Postfix {
        try postfix(name, port: port, relayTo: next, milter: milterPort.map { "inet:127.0.0.1:\($0)" }, extra: extra)
    }
}
