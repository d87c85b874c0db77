// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "dkim-milter",
    products: [
        .library(name: "DKIM", targets: ["DKIM"]),
        .executable(name: "dkimkey", targets: ["dkimkey"]),
        .executable(name: "dkim-milter", targets: ["dkim-milter"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // Logs, metrics and the /metrics endpoint (README "Observability": why these, and their cost).
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1"),
    ],
    targets: [
        // Sans-I/O core: parsing, canonicalization, sessions, results. No C, no files, no clock reads.
        .target(name: "DKIM"),
        // OpenSSL's libcrypto, wrapped once by DKIMOpenSSL.
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .target(name: "DKIMOpenSSL", dependencies: ["DKIM", "COpenSSL"]),
        // DNS: an event-driven stub client (one poll thread for every outstanding query) and the key cache.
        .target(name: "DKIMDNS", dependencies: ["DKIM"]),
        // The milter's per-message core without C: the session state machine and its outcomes,
        // policy, key store, tables, configuration.
        .target(name: "DKIMMilterCore", dependencies: [
            "DKIM", "DKIMKeyCheck", .product(name: "CoreMetrics", package: "swift-metrics"),
        ]),
        // libpq, wrapped once by DKIMPostgres: KeyTable and SigningTable datasets in PostgreSQL
        // (OpenDKIM's dsn:pgsql://… and a connection-string form), a pool, LISTEN/NOTIFY. Why libpq
        // rather than postgres-nio (threads, build time, memory): PostgresConnection.swift.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .target(name: "DKIMPostgres", dependencies: ["DKIMMilterCore", "CLibPQ"]),
        // libmilter, wrapped once by DKIMMilter, the adapter (only MilterCallbacks.swift calls
        // smfi_*): callbacks, host, sockets, signals, DNS lookups, OpenSSL keys.
        .systemLibrary(name: "CMilter", pkgConfig: "milter", providers: [.apt(["libmilter-dev"])]),
        .target(name: "DKIMMilter", dependencies: [
            "DKIMMilterCore", "DKIM", "DKIMKeyCheck", "DKIMOpenSSL", "DKIMDNS", "DKIMPostgres", "CMilter",
            .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "FlyingFox", package: "FlyingFox"),
            .product(name: "FlyingSocks", package: "FlyingFox"),
        ]),
        .executableTarget(name: "dkim-milter", dependencies: [
            "DKIMMilter", "DKIMMilterCore", "DKIM", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Metrics", package: "swift-metrics"),
        ]),
        // A milter-protocol client that speaks to a milter as Postfix does (tests, benchmarks).
        .target(name: "MilterClient"),
        // The benchmark: the same load against dkim-milter and OpenDKIM, through the milter protocol
        // and inside a throwaway Postfix (DKIMTestSupport runs it), and the library alone.
        .target(name: "MilterBench", dependencies: ["DKIM", "DKIMOpenSSL", "MilterClient", "DKIMTestSupport"]),
        .executableTarget(name: "dkim-bench", dependencies: [
            "MilterBench", "DKIM", "DKIMOpenSSL", "DKIMDNS", "DKIMMilter", "DKIMMilterCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // The judgement of a published key record against the private key: dkimkey check, the
        // milter's published-key guard and dkimkey rotate share it.
        .target(name: "DKIMKeyCheck", dependencies: ["DKIM"]),
        // A libmilter program that does nothing (or, given a key, makes one RSA signature per message):
        // dkim-bench postfix's floors (libmilter's and Postfix's own cost; the least a signer adds).
        .executableTarget(name: "null-milter", linkerSettings: [
            .linkedLibrary("milter"), .linkedLibrary("pthread"), .linkedLibrary("crypto"),
        ]),
        // Sans-I/O like the core: SPF check_host(), DMARC records, tree walk and alignment, received
        // Authentication-Results, and the findings of dkimkey doctor; DNS comes in as a DNSResolver.
        .target(name: "DKIMPolicy", dependencies: ["DKIM"]),
        // What the dkimkey commands do, as a library so it can be tested.
        .target(name: "DKIMKeyTool", dependencies: ["DKIM", "DKIMKeyCheck", "DKIMOpenSSL", "DKIMDNS", "DKIMPolicy"]),
        .executableTarget(name: "dkimkey", dependencies: [
            "DKIMKeyTool", "DKIM", "DKIMOpenSSL", "DKIMDNS", "DKIMPolicy",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // libFuzzer harness (contrib/fuzz.sh): one executable, the target named by its first
        // argument. It only fuzzes when built with -sanitize=fuzzer,address -DFUZZING.
        .systemLibrary(name: "CLibFuzzer"),
        .executableTarget(name: "dkim-fuzz", dependencies: ["DKIM", "DKIMOpenSSL", "DKIMMilterCore", "CLibFuzzer",
                                                           "DKIMTestSupport"]),
        .target(name: "DKIMTestSupport", dependencies: ["DKIM"]),
        .testTarget(name: "DKIMPostgresTests", dependencies: ["DKIMPostgres", "DKIMMilterCore", "DKIMTestSupport"]),
        .testTarget(name: "DKIMTests", dependencies: ["DKIM", "DKIMTestSupport"]),
        .testTarget(name: "DKIMOpenSSLTests", dependencies: ["DKIM", "DKIMOpenSSL", "DKIMTestSupport"]),
        .testTarget(name: "DKIMDNSTests", dependencies: ["DKIMDNS", "DKIM", "DKIMTestSupport"]),
        // DNS UPDATE with TSIG (the publishing of dkimkey rotate) against a real BIND 9; HMAC from OpenSSL.
        .testTarget(name: "DKIMDNSUpdateTests", dependencies: ["DKIMDNS", "DKIM", "DKIMOpenSSL", "DKIMTestSupport"]),
        .testTarget(name: "DKIMFixtureTests", dependencies: ["DKIM", "DKIMOpenSSL", "DKIMKeyTool", "DKIMTestSupport",
                                                            "dkim-fuzz"]),
        .testTarget(name: "DKIMPolicyTests", dependencies: ["DKIMPolicy", "DKIM", "DKIMTestSupport"]),
        .testTarget(name: "DKIMKeyCLITests", dependencies: ["dkimkey", "DKIM", "DKIMKeyCheck", "DKIMKeyTool",
                                                           "DKIMOpenSSL", "DKIMTestSupport", "DKIMPolicy", "DKIMDNS"],
                    exclude: ["Scripts"]),
        .testTarget(name: "DKIMMilterTests", dependencies: ["DKIMMilter", "DKIMMilterCore", "DKIM", "DKIMKeyCheck",
                                                            .product(name: "MetricsTestKit", package: "swift-metrics"),
                                                            "DKIMOpenSSL", "MilterClient", "DKIMTestSupport",
                                                            "dkim-milter"],
                    exclude: ["Scripts"]),
        // dkim-bench postfix on a small load (the benchmark's harness and its checks).
        .testTarget(name: "MilterBenchTests", dependencies: ["MilterBench", "DKIM", "DKIMOpenSSL", "DKIMTestSupport",
                                                             "dkim-milter", "null-milter"]),
        .testTarget(name: "InteropTests", dependencies: ["dkimkey", "DKIMTestSupport"], exclude: ["Scripts"]),
        // The .deb, the unit and contrib/install.sh, installed into fresh Debian 12 roots (run apart
        // by contrib/test.sh: it builds a release and needs root, debootstrap and Debian's mirror).
        .testTarget(name: "PackagingTests", dependencies: ["DKIMTestSupport", "DKIMMilterCore", "MilterClient"]),
    ],
    swiftLanguageModes: [.v6]
)
