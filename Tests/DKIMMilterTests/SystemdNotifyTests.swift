import DKIMTestSupport
import Foundation
import Glibc
import MilterClient
import Testing
@testable import DKIMMilter

/// Issue 16: the unit is Type=notify. The milter tells systemd, through `$NOTIFY_SOCKET`, READY=1
/// once its socket accepts connections, RELOADING=1 then READY=1 around a SIGUSR1 reload, and
/// STOPPING=1 at SIGTERM. A datagram socket of the test's own stands in for systemd's.
@Suite(.serialized) struct SystemdNotifyTests {
    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
    }

    @Test func theNotifierSendsEachStateOnceAndInOrderAsLinesToTheSocketNamedByNotifySocket() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let listener = try NotifySocket(path: dir + "/notify.sock")
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.path])
        notifier.reloading()
        notifier.reloaded(status: "too early")
        #expect(listener.receive(timeout: 0.2) == nil, "nothing before READY=1")
        notifier.ready(status: "Listening")
        #expect(listener.receive(timeout: 5) == "READY=1\nSTATUS=Listening\n")
        notifier.ready(status: "again")
        let before = Self.monotonicMicroseconds()
        notifier.reloading()
        let reloading = try #require(listener.receive(timeout: 5))
        #expect(reloading.hasPrefix("RELOADING=1\n"), "\(reloading)")
        let stamp = try #require(reloading.notifyField("MONOTONIC_USEC").flatMap(UInt64.init))
        #expect(stamp >= before && stamp <= Self.monotonicMicroseconds())
        notifier.reloaded(status: "Serving")
        #expect(listener.receive(timeout: 5) == "READY=1\nSTATUS=Serving\n")
        notifier.stopping()
        notifier.stopping()
        notifier.reloading()
        #expect(listener.receive(timeout: 5)?.hasPrefix("STOPPING=1\n") == true)
        #expect(listener.receive(timeout: 0.2) == nil, "STOPPING=1 once, and no reload once stopping")
    }

    @Test func anAbstractNotifySocketIsReachedAndNoSocketMeansNothingIsSent() throws {
        let name = "@dkim-milter-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let listener = try NotifySocket(path: name)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": name]).send(["READY=1"]))
        #expect(listener.receive(timeout: 5) == "READY=1\n")
        #expect(!SystemdNotifier(environment: [:]).send(["READY=1"]))
        #expect(!SystemdNotifier(environment: ["NOTIFY_SOCKET": "relative/path"]).send(["READY=1"]))
    }

    func startMilter(in dir: String, notify: NotifySocket) throws -> MilterProcess {
        let store = try TestKeyStore.make(in: dir, keys: [("rsa2048a.pem", "example.com", "sr2048a")])
        return try MilterProcess(arguments: ["--keys-dir", store, "--test-records", Fixtures.corpus + "/keys.txt"],
                                 socket: "unix:\(dir)/milter.sock", waitForSocket: false,
                                 environment: ["NOTIFY_SOCKET": notify.path])
    }

    /// systemd counts the service as started at READY=1 (and starts Postfix after it): by then a
    /// connection must be served, and nothing else was said before.
    @Test func readyComesOnlyOnceTheSocketAcceptsConnections() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let notify = try NotifySocket(path: dir + "/notify.sock")
        let milter = try startMilter(in: dir, notify: notify)
        defer { milter.stop() }
        let first = try #require(notify.receive(timeout: 20), "no READY=1: \(milter.log)")
        let c = try MilterConnection(socket: milter.socket, timeout: 5)
        try c.negotiate()
        #expect(first.hasPrefix("READY=1\n"), "the first message: \(first)")
        #expect(first.notifyField("STATUS")?.contains("Listening on unix:\(dir)/milter.sock") == true, "\(first)")
        try c.quit()
    }

    @Test func sigusr1IsBracketedByReloadingAndReadyAndSigtermSaysStoppingOnce() throws {
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let notify = try NotifySocket(path: dir + "/notify.sock")
        let milter = try startMilter(in: dir, notify: notify)
        defer { milter.stop() }
        _ = try #require(notify.receive(until: "READY=1", timeout: 20), "no READY=1: \(milter.log)")
        let before = Self.monotonicMicroseconds()
        milter.signal(SIGUSR1)
        let reloading = try #require(notify.receive(timeout: 10), "nothing after SIGUSR1: \(milter.log)")
        #expect(reloading.hasPrefix("RELOADING=1\n"), "\(reloading)")
        let stamp = try #require(reloading.notifyField("MONOTONIC_USEC").flatMap(UInt64.init), "\(reloading)")
        #expect(stamp >= before && stamp <= Self.monotonicMicroseconds())
        let ready = try #require(notify.receive(timeout: 10), "no READY=1 after the reload: \(milter.log)")
        #expect(ready.hasPrefix("READY=1\n") && ready.notifyField("STATUS")?.contains("1 signing key(s)") == true,
                "\(ready)")
        #expect(milter.logContains("reloaded: 1 signing key(s)"))
        milter.signal(SIGTERM)
        let stopping = try #require(notify.receive(timeout: 10), "nothing after SIGTERM: \(milter.log)")
        #expect(stopping.hasPrefix("STOPPING=1\n"), "\(stopping)")
        #expect(milter.waitForExit(timeout: 20) == 0, "\(milter.log)")
        #expect(notify.receive(timeout: 0.2) == nil, "STOPPING=1 once")
    }
}
