import Foundation
import Glibc

/// A real BIND 9 `named` for the tests, on 127.0.0.1 at a free port, with its configuration,
/// zone files, journals and TSIG key in a temporary folder of its own, and no control channel
/// (`controls { };`), so it never touches a system named (port 53, rndc on 953).
///
/// Each zone has an SOA, an NS and `ns` A 127.0.0.1; an updatable zone has
/// `allow-update { key "KEY"; };` for the key `tsig-keygen` made. Run as root (CI), named runs as
/// nobody (setpriv) and the folder belongs to nobody; otherwise as the current user. It is ready
/// when it answers an SOA query for its first zone over TCP, not after a sleep. `stop()` ends it
/// by its pid (SIGTERM, then SIGKILL), then the folder is removed.
public final class BINDServer: @unchecked Sendable {
    public struct StartError: Error, CustomStringConvertible { public var description: String }

    /// A zone the server is primary for.
    public struct Zone: Sendable {
        public var name: String
        /// Whether the key may update it.
        public var updatable: Bool
        public init(_ name: String, updatable: Bool = true) {
            self.name = name
            self.updatable = updatable
        }
    }

    public let port: Int
    public let directory: String
    /// The key file `tsig-keygen -a hmac-sha256 KEY` wrote, mode 0600, which named.conf includes.
    public let keyFile: String
    public let keyName: String
    /// The key's secret as the file gives it (base64), to check that no message shows it.
    public let secretBase64: String
    private let process: SpawnedProcess

    /// named's process id.
    public var pid: pid_t { process.pid }

    /// `127.0.0.1:PORT`.
    public var address: String { "127.0.0.1:\(port)" }

    /// named's output (it runs with -g: every log line goes there).
    public var log: String { (try? String(contentsOfFile: directory + "/named.log", encoding: .utf8)) ?? "" }

    public static let named = "/usr/sbin/named"
    public static let tsigKeygen = "/usr/sbin/tsig-keygen"

    public init(zones: [Zone] = [Zone("example.test")], keyName: String = "dkim-rotate") throws {
        guard let first = zones.first else { throw StartError(description: "a BIND server needs a zone") }
        let directory = try Fixtures.makeTemporaryDirectory()
        var started: (SpawnedProcess, Int)?
        do {
            let keygen = try ProcessRunner.run(Self.tsigKeygen, ["-a", "hmac-sha256", keyName], timeout: 20)
            guard keygen.status == 0, let secret = Self.secret(in: keygen.stdoutText) else {
                throw StartError(description: "tsig-keygen failed: \(keygen.stderr)")
            }
            let keyFile = directory + "/\(keyName).key"
            try Self.write(keygen.stdoutText, to: keyFile, mode: 0o600)
            for zone in zones {
                try Self.write(Self.zoneFile(zone.name), to: "\(directory)/\(zone.name).zone", mode: 0o644)
            }
            let asRoot = geteuid() == 0
            if asRoot { try Self.giveToNobody(directory) }
            var lastError = ""
            // A port free a moment ago may be taken by the time named binds it: try a few.
            for attempt in 1...5 {
                guard let (fd, port) = LoopbackSocket.bound(.tcp) else {
                    throw StartError(description: "no free port: errno \(errno)")
                }
                close(fd)
                let conf = "\(directory)/named-\(attempt).conf"
                try Self.write(Self.configuration(directory: directory, port: port, keyFile: keyFile,
                                                  keyName: keyName, zones: zones), to: conf, mode: 0o644)
                if asRoot { _ = chown(conf, Self.nobody.uid, Self.nobody.gid) }
                let arguments = ["-g", "-n", "1", "-c", conf, "-p", String(port)]
                let process = asRoot
                    ? try SpawnedProcess("/usr/bin/setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                                              Self.named] + arguments, output: directory + "/named.log")
                    : try SpawnedProcess(Self.named, arguments, output: directory + "/named.log")
                let deadline = Date().addingTimeInterval(15)
                while process.isRunning && Date() < deadline {
                    if Self.answersSOA(port: port, zone: first.name) {
                        started = (process, port)
                        break
                    }
                    usleep(20_000)
                }
                if started != nil { break }
                process.stop(timeout: 2)
                lastError = (try? String(contentsOfFile: directory + "/named.log", encoding: .utf8)) ?? ""
            }
            guard let (process, port) = started else {
                throw StartError(description: "named did not start:\n\(lastError)")
            }
            self.process = process
            self.port = port
            self.directory = directory
            self.keyFile = keyFile
            self.keyName = keyName
            self.secretBase64 = secret
        } catch {
            started?.0.stop(timeout: 2)
            Fixtures.removeTemporaryDirectory(directory)
            throw error
        }
    }

    /// Stops named by its pid and removes its folder.
    public func stop() {
        process.stop(timeout: 5)
        Fixtures.removeTemporaryDirectory(directory)
    }

    // MARK: Files

    static func configuration(directory: String, port: Int, keyFile: String, keyName: String,
                              zones: [Zone]) -> String {
        var text = """
            options {
                directory "\(directory)";
                listen-on port \(port) { 127.0.0.1; };
                listen-on-v6 { none; };
                pid-file "\(directory)/named.pid";
                session-keyfile "\(directory)/session.key";
                managed-keys-directory "\(directory)";
                recursion no;
                dnssec-validation no;
                notify no;
            };
            controls { };
            include "\(keyFile)";

            """
        for zone in zones {
            text += """
                zone "\(zone.name)" {
                    type primary;
                    file "\(directory)/\(zone.name).zone";
                    allow-update { \(zone.updatable ? "key \"\(keyName)\";" : "none;") };
                };

                """
        }
        return text
    }

    static func zoneFile(_ zone: String) -> String {
        """
        $TTL 300
        @ IN SOA ns.\(zone). hostmaster.\(zone). 1 3600 600 86400 300
        @ IN NS ns.\(zone).
        ns IN A 127.0.0.1

        """
    }

    /// The base64 secret of a key file as tsig-keygen writes it.
    public static func secret(in keyFile: String) -> String? {
        guard let start = keyFile.range(of: "secret \"") else { return nil }
        let rest = keyFile[start.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }

    static func write(_ text: String, to path: String, mode: mode_t) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)), chmod(path, mode) == 0 else {
            throw StartError(description: "cannot write \(path)")
        }
    }

    static let nobody: (uid: uid_t, gid: gid_t) = {
        let user = getpwnam("nobody")
        let group = getgrnam("nogroup")
        return (user?.pointee.pw_uid ?? 65534, group?.pointee.gr_gid ?? 65534)
    }()

    /// The folder and everything in it, for named run as nobody (its journals are written there).
    static func giveToNobody(_ directory: String) throws {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for path in [directory] + entries.map({ directory + "/" + $0 }) {
            guard chown(path, nobody.uid, nobody.gid) == 0 else {
                throw StartError(description: "chown nobody \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    // MARK: Readiness

    /// Whether named answers an SOA query for `zone` over TCP, authoritatively, without error.
    static func answersSOA(port: Int, zone: String) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var limit = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = LoopbackSocket.address(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else { return false }
        var query: [UInt8] = [0x42, 0x42, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in zone.split(separator: ".") { query += [UInt8(label.utf8.count)] + Array(label.utf8) }
        query += [0, 0, 6, 0, 1]
        let framed = [UInt8(query.count >> 8), UInt8(query.count & 0xFF)] + query
        guard framed.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == framed.count else {
            return false
        }
        var answer = [UInt8](repeating: 0, count: 6)
        var have = 0
        while have < answer.count {
            let n = answer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + have, $0.count - have, 0) }
            guard n > 0 else { return false }
            have += n
        }
        // After the length: the id, then QR and AA set, RCODE 0.
        return answer[2] == 0x42 && answer[3] == 0x42 && answer[4] & 0x84 == 0x84 && answer[5] & 0x0F == 0
    }
}
