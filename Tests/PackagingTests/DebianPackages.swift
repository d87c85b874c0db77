import DKIMTestSupport
import Foundation

/// The .deb under test, built once per test run by contrib/debian/build-deb.sh (the release
/// build is incremental, in .build-deb/swift): revision 1, and revision 2 for the upgrade.
enum DebianPackages {
    struct Built: Sendable {
        let first: String
        let second: String
    }

    static let output = Fixtures.repositoryRoot + "/.build-deb/test-packages"
    private static let lock = NSLock()
    nonisolated(unsafe) private static var built: Result<Built, any Error>?

    static func build() throws -> Built {
        lock.lock()
        defer { lock.unlock() }
        if let built { return try built.get() }
        let result = Result { () throws -> Built in
            try? FileManager.default.removeItem(atPath: output)
            var paths: [String] = []
            // The second only serves the upgrade: zstd makes it in a second rather than xz's minute.
            for (revision, compression) in [("1", "xz"), ("2", "zstd")] {
                let r = try ProcessRunner.run(Fixtures.repositoryRoot + "/contrib/debian/build-deb.sh",
                                              ["--revision", revision, "--output", output,
                                               "--compression", compression],
                                              currentDirectory: Fixtures.repositoryRoot, timeout: 1800)
                guard r.status == 0, let deb = r.stdoutText.split(separator: "\n").last else {
                    throw DebianRoot.Failure(description: "build-deb.sh failed (\(r.status)): \(r.stderr.suffix(4000))")
                }
                paths.append(String(deb))
            }
            return Built(first: paths[0], second: paths[1])
        }
        built = result
        return try result.get()
    }

    /// A control field of a package (dpkg-deb --field).
    static func field(_ deb: String, _ name: String) throws -> String {
        try ProcessRunner.run("/usr/bin/dpkg-deb", ["--field", deb, name]).stdoutText
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
