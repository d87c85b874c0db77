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
            if target == "milter" {
                // The sign-then-verify check must really run, not stop silently.
                let verified = r.stdoutText.split(separator: "\n").first { $0.hasPrefix("signed messages verified: ") }
                    .flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
                #expect(verified > 0, "the milter target verified no signed message: \(r.stdoutText.suffix(300))")
            }
        }
    }

    /// Inputs the fuzzer once crashed on (Tests/Fixtures/fuzz-regressions/TARGET/NAME), replayed
    /// every run. body-with-bare-lf: a body with a bare LF, which the verifier reads as a line end
    /// (RFC 6376 §5.3) and an MTA never sends; the harness now models that.
    @Test func everyFormerCrashStaysFixed() throws {
        let fuzz = Fixtures.productsDirectory + "/dkim-fuzz"
        let root = Fixtures.repositoryRoot + "/Tests/Fixtures/fuzz-regressions"
        let targets = try FileManager.default.contentsOfDirectory(atPath: root).sorted()
        #expect(!targets.isEmpty)
        for target in targets {
            let files = try FileManager.default.contentsOfDirectory(atPath: root + "/" + target).sorted()
                .map { root + "/" + target + "/" + $0 }
            let r = try ProcessRunner.run(fuzz, ["replay", target] + files, timeout: 120)
            #expect(r.status == 0, "\(target): \(r.stdoutText.suffix(500)) \(r.stderr.suffix(2000))")
        }
    }
}
