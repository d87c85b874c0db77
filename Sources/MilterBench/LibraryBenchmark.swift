import DKIM
import DKIMOpenSSL
import Foundation

/// The library alone: canonicalize+hash throughput and signatures per second, next to what
/// `openssl speed` gets on the same machine.
public enum LibraryBenchmark {
    public static func hashThroughput(_ algorithm: Canonicalization, seconds: Double = 2) -> Double {
        let body = Array(BenchMessages.message(size: 1 << 20).drop(while: { $0 != 0x0A }))
        var bytes = 0
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            var hasher = BodyHasher(algorithm, digest: SHA256Digest())
            body.withUnsafeBufferPointer { b in
                var offset = 0
                while offset < b.count {
                    let n = min(65535, b.count - offset)
                    hasher.update(UnsafeBufferPointer(rebasing: b[offset..<(offset + n)]))
                    offset += n
                }
            }
            _ = hasher.finalize()
            bytes += body.count
        }
        return Double(bytes) / Date().timeIntervalSince(start) / 1e6
    }

    public static func signaturesPerSecond(_ key: PrivateKey, seconds: Double = 2) -> Double {
        let digest = SHA256Digest.hash(Array("digest".utf8))
        var n = 0
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            _ = try? key.signature(forDigest: digest)
            n += 1
        }
        return Double(n) / Date().timeIntervalSince(start)
    }

    /// `openssl speed` figures: SHA-256 MB/s (16 KB blocks), RSA-2048 and Ed25519 signs/s.
    public static func opensslSpeed() -> (sha256: Double?, rsa2048: Double?, ed25519: Double?) {
        func run(_ args: [String]) -> String {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            p.arguments = ["speed", "-seconds", "2"] + args
            let pipe = Pipe()
            p.standardOutput = pipe
            p.standardError = FileHandle.nullDevice
            guard (try? p.run()) != nil else { return "" }
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
        // "sha256   123456.78k" (thousands of bytes per second for 16 KB blocks)
        var sha: Double?
        for line in run(["-bytes", "16384", "sha256"]).split(separator: "\n") where line.hasPrefix("sha256") {
            if let last = line.split(separator: " ").last {
                let digits = last.hasSuffix("k") ? last.dropLast() : last
                if let value = Double(digits) { sha = value * 1000 / 1e6 }
            }
        }
        let keys = run(["rsa2048", "ed25519"]).split(separator: "\n")
        let rsa = keys.first { $0.hasPrefix("rsa 2048 bits") }.flatMap { line -> Double? in
            let cols = line.split(separator: " ", omittingEmptySubsequences: true)
            return cols.count >= 7 ? Double(cols[cols.count - 2]) : nil
        }
        let ed = keys.first { $0.contains("Ed25519") }.flatMap { line -> Double? in
            let cols = line.split(separator: " ", omittingEmptySubsequences: true)
            return cols.count >= 4 ? Double(cols[cols.count - 2]) : nil
        }
        return (sha, rsa, ed)
    }
}
