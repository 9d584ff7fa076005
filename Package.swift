// swift-tools-version: 6.1
import PackageDescription

// Module layout and dependency direction: see ARCHITECTURE in the README.

/// `slipway-agent` carries the Swift runtime and Foundation inside it on Linux, so that a host needs nothing
/// installed: copy one file.
/// Modules compiled for the shared libraries name Foundation's but not the ICU and C libraries that its static archives
/// need, so those are named here. `--no-export-dynamic` undoes the static standard library's `-export-dynamic`: an
/// executable that nothing loads plug-ins into need not export its symbols, and the table of them was 1.6 MB of
/// every agent's resident memory.
let staticStandardLibrary: [LinkerSetting] = [
    .unsafeFlags(["-static-stdlib", "-Xlinker", "--no-export-dynamic"], .when(platforms: [.linux])),
    .linkedLibrary("CoreFoundation", .when(platforms: [.linux])),
    .linkedLibrary("_FoundationICU", .when(platforms: [.linux])),
    .linkedLibrary("_FoundationCShims", .when(platforms: [.linux])),
    .linkedLibrary("_FoundationCollections", .when(platforms: [.linux])),
    .linkedLibrary("stdc++", .when(platforms: [.linux])),
]
// Pure modules (SlipwayModel, AppSpec, Engine) depend on nothing that does I/O.
let package = Package(
    name: "slipway",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "slipway", targets: ["slipway"]),
        .executable(name: "slipway-agent", targets: ["slipway-agent"]),
        .executable(name: "slipway-bench", targets: ["slipway-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.0"..<"5.0.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.3.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", from: "0.9.20"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
    ],
    targets: [
        // API shapes generated from the CodeDeploy service model, the agent command protocol, AWS JSON coding.
        .target(name: "SlipwayModel", exclude: ["README.md"]),
        // appspec.yml parsing and validation. Pure: text in, value or errors out.
        .target(
            name: "AppSpec",
            dependencies: ["SlipwayModel", .product(name: "Yams", package: "Yams")],
            exclude: ["README.md"]
        ),
        // AWS Signature Version 4: signing and verification. Leaf module.
        .target(
            name: "SigV4",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            exclude: ["README.md"]
        ),
        // Deployments as pure state machines. No I/O.
        .target(name: "Engine", dependencies: ["SlipwayModel"], exclude: ["README.md"]),
        // Persistence behind one protocol.
        .target(
            name: "Store",
            dependencies: [
                "SlipwayModel", "Engine", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            exclude: ["README.md"]
        ),
        // The signed HTTP client of the agent and the CLI (JSON, query and S3 requests), and the S3 client the server
        // and agents fetch revisions with.
        .target(
            name: "S3Transfer",
            dependencies: [
                "SigV4",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            exclude: ["README.md"]
        ),
        // Revision storage: local files or an external S3-compatible endpoint.
        .target(
            name: "ArtifactStore",
            dependencies: [
                "SlipwayModel", "SigV4", "Store", "S3Transfer",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            exclude: ["README.md"]
        ),
        // Orchestration: the driver that applies engine events in store transactions and performs their actions.
        // No HTTP.
        .target(
            name: "Deployments",
            dependencies: [
                "SlipwayModel", "Engine", "Store", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            exclude: ["README.md"]
        ),
        // Traffic controllers behind the Deployments module's TrafficController: HAProxy's runtime API.
        .target(
            name: "Traffic",
            dependencies: [
                "Deployments", "Engine", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["README.md"]
        ),
        // Alarm sources behind the Deployments module's AlarmSource: Slipway's own CloudWatch alarms, Prometheus and
        // Alertmanager alerts.
        .target(
            name: "Alarms",
            dependencies: [
                "Deployments", "Store", "SlipwayModel", "S3Transfer", "SigV4",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            exclude: ["README.md"]
        ),
        // Notifications: the SNS topics, subscriptions and deliveries behind Slipway's SNS API, fed by the
        // Deployments module's outbox.
        .target(
            name: "Notifications",
            dependencies: [
                "Deployments", "Store", "SlipwayModel", "S3Transfer", "SigV4",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["README.md"]
        ),
        // HTTP front: protocol dispatch, authentication, API handlers; drives the engine.
        .target(
            name: "Server",
            dependencies: [
                "SlipwayModel", "AppSpec", "SigV4", "Engine", "Store", "Deployments", "Traffic", "Alarms",
                "Notifications", "ArtifactStore", "S3Transfer", "ZipIndex",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["README.md"]
        ),
        // Host agent: command client, bundle fetch, installer, hook executor.
        // A zip archive's central directory read from bytes fetched in pieces: the agent's zip deltas and the
        // console's revision changes. No I/O.
        .target(name: "ZipIndex"),
        .target(
            name: "Agent",
            dependencies: [
                "SlipwayModel", "AppSpec", "SigV4", "S3Transfer", "ZipIndex",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            exclude: ["README.md"]
        ),
        // The agent's command line, shared by `slipway agent` and `slipway-agent`: options, signals, --check, and the
        // metrics listener (SwiftNIO's HTTP/1 codec, so that no server framework reaches the hosts).
        .target(
            name: "AgentCommandLine",
            dependencies: [
                "Agent", "SlipwayModel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // The host agent on its own: what hosts install. Links no server code (no Hummingbird, GRDB or Server).
        .executableTarget(
            name: "slipway-agent",
            dependencies: [
                "AgentCommandLine", "SlipwayModel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            linkerSettings: staticStandardLibrary
        ),
        // The executable: argument parsing and wiring only.
        .executableTarget(
            name: "slipway",
            dependencies: [
                "SlipwayModel", "AppSpec", "Server", "Traffic", "Alarms", "Agent", "AgentCommandLine", "Store", "SigV4",
                "S3Transfer",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // Fuzz target for the AppSpec parser: libFuzzer with -DFUZZING, a replayer of input files otherwise.
        .executableTarget(name: "AppSpecFuzzer", dependencies: ["AppSpec"]),
        // Fuzz target for the request parsers (SigV4, JSON reader and shape validator), built the same way; see
        // scripts/fuzz-requests.sh. Light modules only, so that its sanitizer build stays short.
        .executableTarget(name: "RequestFuzzer", dependencies: ["SigV4", "SlipwayModel"]),
        // Benchmarks: one executable, a subcommand per scenario. Figures go to docs/benchmarks.md.
        .executableTarget(
            name: "slipway-bench",
            dependencies: [
                "SigV4", "SlipwayModel", "Agent", "S3Transfer", "Traffic", "Deployments", "Engine", "Store", "Alarms",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),

        .testTarget(name: "SlipwayModelTests", dependencies: ["SlipwayModel"]),
        .testTarget(name: "AppSpecTests", dependencies: ["AppSpec"], resources: [.copy("Fixtures")]),
        .testTarget(name: "SigV4Tests", dependencies: ["SigV4"], resources: [.copy("Fixtures")]),
        .testTarget(name: "EngineTests", dependencies: ["Engine"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "SlipwayModel"]),
        .testTarget(
            name: "DeploymentsTests",
            dependencies: [
                "Deployments", "Engine", "Store", "SlipwayModel", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "TrafficTests",
            dependencies: [
                "Traffic", "Deployments", "Engine", "Store", "SlipwayModel",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "AlarmsTests",
            dependencies: [
                "Alarms", "Deployments", "Store", "SlipwayModel", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "NotificationsTests",
            dependencies: [
                "Notifications", "Deployments", "Store", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "ArtifactStoreTests",
            dependencies: [
                "ArtifactStore", "SigV4", "Store", "S3Transfer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "ZipIndex",
                "Server", "Deployments", "SigV4", "SlipwayModel", "Store",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "AgentTests",
            dependencies: [
                "Agent", "ZipIndex", "AppSpec", "SlipwayModel", "SigV4", .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // Also runs `slipway-agent`, which `swift build` and `swift test` build as a product of the package; it is not a
        // dependency because a test bundle that links it would take its static standard library.
        .testTarget(name: "SlipwayCLITests", dependencies: ["slipway"], exclude: ["Python"]),
    ],
    swiftLanguageModes: [.v6]
)
