import DKIMTestSupport
import Foundation
import Testing

/// The fuzz harness's checks, run once over every seed made from the corpus (deterministic; the
/// time-bounded fuzzing itself is contrib/fuzz.sh). Keeps the harness and its invariants working.
@Suite struct FuzzSeedReplayTests {
    static let targets = ["tag-list", "message", "key-record", "body", "verify", "milter"]

    @Test func everySeedPassesEveryTargetsChecks() throws {
        let fuzz = Fixtures.productsDirectory + "/dkim-fuzz"
        let dir = try Fixtures.makeTemporaryDirectory()
        defer { Fixtures.removeTemporaryDirectory(dir) }
        let made = try ProcessRunner.run(fuzz, ["make-seeds", Fixtures.corpus, dir])
        #expect(made.status == 0, "\(made.stdoutText) \(made.stderr)")
        for target in Self.targets {
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir + "/" + target)) ?? []).sorted()
                .map { dir + "/" + target + "/" + $0 }
            #expect(files.count > 20, "\(target): only \(files.count) seeds")
            let r = try ProcessRunner.run(fuzz, ["replay", target] + files, timeout: 300)
            #expect(r.status == 0, "\(target): \(r.stdoutText.suffix(500)) \(r.stderr.suffix(2000))")
            #expect(r.stdoutText.split(separator: "\n").filter { $0.hasSuffix(": ok") }.count == files.count)
        }
    }
}
