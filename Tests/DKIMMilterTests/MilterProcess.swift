import DKIMTestSupport
import Foundation
import Glibc
import MilterClient

/// The real `dkim-milter` binary, started by a test on a socket of its own and stopped by its pid.
final class MilterProcess: @unchecked Sendable {
    struct StartError: Error, CustomStringConvertible { var description: String }

    let process = Process()
    let socket: String
    private let errors = Pipe()
    private var collected = Data()
    /// Set when the pipe reached end of file: the process (the only writer) is gone and its last
    /// words are in `collected`.
    private var ended = false
    private let lock = NSLock()

    static var executable: String { Fixtures.productsDirectory + "/dkim-milter" }

    /// - Parameters:
    ///   - executable: dkim-milter by default; OpenDKIM's `/usr/sbin/opendkim` for comparisons.
    ///   - socketOption: how the program is told its socket (`--socket` for dkim-milter, `-p` for opendkim).
    ///   - environment: added to the test's own environment (NOTIFY_SOCKET, for instance).
    init(executable: String = MilterProcess.executable, arguments: [String], socket: String,
         socketOption: String = "--socket", waitForSocket: Bool = true, environment: [String: String] = [:]) throws {
        self.socket = socket
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments + [socketOption, socket]
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardError = errors
        process.standardOutput = errors
        errors.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self else { return }
            self.lock.lock(); self.collected.append(d); if d.isEmpty { self.ended = true }; self.lock.unlock()
        }
        try process.run()
        if waitForSocket {
            // Up when it says so: dkim-milter logs "listening on" once its socket is open and has its
            // mode, the PID file is written and root is dropped. A connection is accepted earlier
            // (into the socket's backlog), so for dkim-milter a connection alone does not tell.
            let saysListening = executable == MilterProcess.executable
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                let up = saysListening ? log.contains("listening on ")
                    : (try? MilterConnection(socket: socket, timeout: 5)) != nil
                if up { return }
                if !process.isRunning { break }
                usleep(20_000)
            }
            stop()
            throw StartError(description: "dkim-milter did not start: \(log)")
        }
    }

    var log: String {
        lock.lock(); defer { lock.unlock() }
        return String(decoding: collected, as: UTF8.self)
    }

    /// Waits (up to 10 s) until the log holds `text`; the log arrives through a pipe, a little later.
    func logContains(_ text: String) -> Bool {
        let deadline = Date().addingTimeInterval(10)
        while !log.contains(text) && Date() < deadline { usleep(20_000) }
        return log.contains(text)
    }

    /// Waits for the process to end by itself (for start-up failures), and for its last output.
    func waitForExit(timeout: TimeInterval = 20) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { return nil }
        waitForEndOfOutput()
        return process.terminationStatus
    }

    /// Waits (bounded) until the output pipe reached end of file, so that `log` is complete.
    private func waitForEndOfOutput(timeout: TimeInterval = 10) {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            lock.lock(); let done = ended; lock.unlock()
            if done { return }
            usleep(10_000)
        }
    }

    /// What each thread of the process is blocked in: the fields of /proc/PID/task/TID/syscall
    /// (the x86_64 system call number and its arguments in hex; `running` while it runs). A
    /// parent may read its child's.
    func threadSyscalls() -> [[String]] {
        let pid = process.processIdentifier
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.compactMap { task in
            (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/syscall", encoding: .utf8))
                .map { $0.split(separator: " ").map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) } }
        }
    }

    /// Waits (up to `timeout` seconds) until a thread is blocked as `matches` says.
    func waitForAThread(timeout: TimeInterval = 30, count: Int = 1, _ matches: ([String]) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if threadSyscalls().filter(matches).count >= count { return true }
            usleep(10_000)
        }
        return threadSyscalls().filter(matches).count >= count
    }

    /// A libmilter worker in poll(2) on one descriptor with its 600 s read timeout: it holds a
    /// client that stopped in the middle of a packet.
    static func readsAStalledClient(_ call: [String]) -> Bool {
        call.count > 3 && call[0] == "7" && call[2] == "0x1" && call[3] == "0x927c0"
    }

    /// Waits (up to `timeout` seconds) until the milter has read all that was sent on `connection`:
    /// SIOCOUTQ of a unix socket counts the bytes still queued for the peer.
    static func waitUntilRead(_ connection: MilterConnection, timeout: TimeInterval = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        var queued: Int32 = -1
        while Date() < deadline {
            guard ioctl(connection.socketDescriptor, UInt(TIOCOUTQ), &queued) == 0 else { return false }
            if queued == 0 { return true }
            usleep(5_000)
        }
        return false
    }

    func signal(_ s: Int32) { kill(process.processIdentifier, s) }

    /// Ends the process and returns its exit status. `graceful`: SIGTERM (libmilter then takes up
    /// to 5 s to leave its accept loop), SIGKILL after 20 s; otherwise SIGKILL at once.
    @discardableResult
    func stop(graceful: Bool = false) -> Int32 {
        if process.isRunning { kill(process.processIdentifier, graceful ? SIGTERM : SIGKILL) }
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        waitForEndOfOutput()
        errors.fileHandleForReading.readabilityHandler = nil
        return process.terminationStatus
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}

/// A key store folder holding corpus keys (published in the corpus keys.txt).
enum TestKeyStore {
    static func make(in dir: String, keys: [(file: String, domain: String, selector: String)],
                     mode: mode_t = 0o600) throws -> String {
        let store = dir + "/Keys"
        for k in keys {
            try FileManager.default.createDirectory(atPath: store + "/" + k.domain, withIntermediateDirectories: true)
            let path = store + "/\(k.domain)/\(k.selector).pem"
            try Data(try Fixtures.bytes("corpus/keys/" + k.file)).write(to: URL(fileURLWithPath: path))
            chmod(path, mode)
        }
        return store
    }
}
