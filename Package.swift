// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "OrderSaga",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Kafka", targets: ["Kafka"]),
        .library(name: "EventSchema", targets: ["EventSchema"]),
        .library(name: "Persistence", targets: ["Persistence"]),
        .library(name: "Messaging", targets: ["Messaging"]),
        .executable(name: "dev-cluster", targets: ["DevCluster"]),
        .executable(name: "kafka-tool", targets: ["KafkaTool"]),
        .executable(name: "messaging-harness", targets: ["MessagingHarness"]),
        .executable(name: "order-service", targets: ["OrderService"]),
        .executable(name: "inventory-service", targets: ["InventoryService"]),
        .executable(name: "payment-service", targets: ["PaymentService"]),
        .executable(name: "notification-service", targets: ["NotificationService"]),
        .executable(name: "loadgen", targets: ["LoadGenerator"]),
        .executable(name: "saga-admin", targets: ["SagaAdmin"]),
        .executable(name: "saga-console", targets: ["Console"]),
    ],
    // Every package a target uses, `exact:` at the version resolved here. Package.resolved stays
    // out of git (a mirror's copy carries the mirror's commit ids), so the rest of the graph is
    // pinned in deploy/transitive-pins.txt, which the image build resolves to
    // (deploy/pin-graph.sh); PackagePinTests hold the three together.
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", exact: "1.33.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", exact: "2.0.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", exact: "1.37.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", exact: "0.2.0"),
        .package(url: "https://github.com/jpsim/Yams", exact: "5.0.1"),
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
        // Bearer tokens at the edge: JWT verification (EdDSA) and Hummingbird's auth context.
        .package(url: "https://github.com/vapor/jwt-kit", exact: "5.8.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", exact: "2.5.0"),
        // OTLP over HTTP only (the trait): the gRPC exporter's packages are not in the graph.
        .package(url: "https://github.com/swift-otel/swift-otel", exact: "1.6.0", traits: ["OTLPHTTP"]),
        // Used by targets here, and also brought by the packages above.
        .package(url: "https://github.com/apple/swift-atomics.git", exact: "1.3.0"),
        // Also the schema library's SHA-256.
        .package(url: "https://github.com/apple/swift-crypto.git", exact: "4.5.2"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", exact: "1.7.3"),
        .package(url: "https://github.com/apple/swift-http-types.git", exact: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", exact: "1.35.2"),
        // The DocC articles: `swift package generate-documentation --target Messaging`.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin.git", exact: "1.5.0"),
    ],
    targets: [
        // librdkafka from the system (apt: librdkafka-dev), including the mock-cluster header.
        .systemLibrary(
            name: "CRdKafka",
            path: "Shared/CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        // Our Swift Kafka client: producer, consumer, admin over the C API.
        .target(
            name: "Kafka",
            dependencies: [
                "CRdKafka",
                "Locking",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Shared/Kafka"
        ),
        // The contract between services: protobuf events, the header envelope, the topic catalog.
        .target(
            name: "EventSchema",
            dependencies: [
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Shared/EventSchema",
            exclude: ["Contracts"]
        ),
        // The options every client of the brokers takes: TLS from files, -X properties.
        .target(
            name: "KafkaCLI",
            dependencies: ["Kafka", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Shared/KafkaCLI"
        ),
        // The HTTP contract (Shared/SagaAPI/openapi.yaml) as Swift types: the services answer
        // with them, the load generator and the audit read them, the tests check both; and the
        // problem type every error is answered with.
        .target(
            name: "SagaAPI",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Shared/SagaAPI",
            exclude: ["openapi.yaml"]
        ),
        // A seedable random generator: reproducible seed catalogs, order mixes and test inputs.
        .target(name: "SeededRandom", path: "Shared/SeededRandom"),
        .target(name: "Deciding", dependencies: ["EventSchema"], path: "Shared/Deciding"),
        // For code outside Swift concurrency: a value behind a lock, and OS threads named in the kernel.
        .target(name: "Locking", path: "Shared/Locking"),
        // Who may do what on the bus: the brokers' ACLs derived from the topic catalog.
        .target(name: "BusAccess", dependencies: ["Kafka", "EventSchema"], path: "Shared/BusAccess"),
        // The storage contract and its two backends: SQLite (GRDB) and PostgreSQL (postgres-nio).
        .target(
            name: "Persistence",
            dependencies: [
                "Locking",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Shared/Persistence"
        ),
        // Outbox, inbox, stored offsets, the consumer runtime and the outbox relay.
        .target(
            name: "Messaging",
            dependencies: [
                "Kafka", "EventSchema", "Persistence", "Credentials", "Locking",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                // Spans around publish, consume, handle and transactions (the API only; no exporter).
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Atomics", package: "swift-atomics"),
            ],
            path: "Shared/Messaging"
        ),
        // Tracing's OTLP exporter from the OTEL_* variables, JSON log lines with trace and span
        // ids, process metrics: what every process bootstraps once at start.
        .target(
            name: "Observability",
            dependencies: [
                "Messaging",
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/Observability"
        ),
        // Who is who: bearer tokens (minted and verified, EdDSA, keys from a JWKS) and the
        // event-signing keys and keyring every producer and consumer of the bus uses.
        .target(
            name: "Credentials",
            dependencies: [
                "EventSchema",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Shared/Credentials"
        ),
        // The dev cluster's control API as JSON types: the server and its clients share them.
        .target(name: "DevClusterAPI", path: "Tools/DevClusterAPI"),

        // Dead letters as `kafka-tool deadletters` and the console read, filter and replay them: one code path.
        .target(
            name: "DeadLetterQueue",
            dependencies: ["Credentials", "EventSchema", "Kafka", "Messaging",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            path: "Shared/DeadLetterQueue"
        ),
        // One order's records and its timeline: `loadgen timeline` and the console's order page.
        .target(
            name: "SagaTimeline",
            dependencies: ["Credentials", "EventSchema", "Kafka", .product(name: "Logging", package: "swift-log")],
            path: "Shared/SagaTimeline"
        ),
        // Test support: records built to break consumers (generated, seeded, replayable).
        .target(
            name: "HostileInput",
            dependencies: ["EventSchema", "Kafka", .product(name: "PropertyBased", package: "swift-property-based")],
            path: "Tests/Support/HostileInput"),
        // Test support: the dev cluster (and kcat) as child processes of a test.
        .target(name: "DevClusterTesting", dependencies: ["DevClusterAPI"], path: "Tests/Support/DevClusterTesting"),
        // Test support: one fresh store per test, one fixture per backend (SQLite, PostgreSQL).
        .target(name: "StoreFixtures", dependencies: ["Persistence", .product(name: "Logging", package: "swift-log")],
                path: "Tests/Support/StoreFixtures"),
        // Embedded 3-broker Kafka (librdkafka's mock cluster) with fault-injection controls.
        .executableTarget(
            name: "DevCluster",
            dependencies: [
                "CRdKafka", "EventSchema", "DevClusterAPI", "SagaAPI",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Tools/DevCluster",
            exclude: ["README.md"]
        ),
        // Produce / consume / benchmark from the command line with our Kafka library.
        .executableTarget(
            name: "KafkaTool",
            dependencies: [
                "Kafka", "KafkaCLI", "EventSchema", "Messaging", "Persistence", "BusAccess", "Credentials", "DeadLetterQueue",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/KafkaTool"
        ),
        // Each service's domain rules: its per-order state machine, pure and unit-tested.
        .target(name: "OrderCore", dependencies: ["EventSchema", "Deciding"], path: "Services/Order/Core"),
        .target(name: "InventoryCore", dependencies: ["EventSchema", "Deciding"], path: "Services/Inventory/Core"),
        .target(name: "PaymentCore", dependencies: ["EventSchema", "Deciding"], path: "Services/Payment/Core"),
        .target(name: "NotificationCore", dependencies: ["EventSchema", "Deciding"], path: "Services/Notification/Core"),
        // A minimal service on the messaging runtime: crash tests and the runtime benchmark drive it.
        .executableTarget(
            name: "MessagingHarness",
            dependencies: [
                "Messaging", "Kafka", "EventSchema", "Persistence", "Locking",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/MessagingHarness"
        ),
        // What every service process shares: settings from flags and environment, the seed
        // catalog, the HTTP edge (health, readiness, metrics, problem JSON), start-up and shutdown.
        .target(
            name: "ServiceKit",
            dependencies: [
                "Messaging", "Kafka", "KafkaCLI", "EventSchema", "Deciding", "Persistence", "Observability", "Credentials", "SagaAPI",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Shared/ServiceKit"
        ),
        // The four services: each its domain core wired to ServiceKit.
        .executableTarget(
            name: "OrderService",
            dependencies: ["OrderCore", "ServiceKit", "SagaAPI", "Messaging", "Persistence", "EventSchema", "Deciding", "Credentials",
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Services/Order/Service"
        ),
        .executableTarget(
            name: "InventoryService",
            dependencies: ["InventoryCore", "ServiceKit", "SagaAPI", "Messaging", "Persistence", "EventSchema", "Deciding", "Credentials",
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Services/Inventory/Service"
        ),
        .executableTarget(
            name: "PaymentService",
            dependencies: ["PaymentCore", "ServiceKit", "SagaAPI", "Messaging", "Persistence", "EventSchema", "Deciding", "Credentials",
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Services/Payment/Service"
        ),
        .executableTarget(
            name: "NotificationService",
            dependencies: ["NotificationCore", "ServiceKit", "SagaAPI", "Messaging", "Persistence", "EventSchema", "Deciding", "Credentials",
                           .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Services/Notification/Service"
        ),
        // The keys of a deployment and the bearer tokens of its callers.
        .executableTarget(
            name: "SagaAdmin",
            dependencies: ["Credentials", "EventSchema", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Tools/SagaAdmin"
        ),
        // The operator's console: server-rendered pages over the topics and the services' operator routes.
        .executableTarget(
            name: "Console",
            dependencies: [
                "ServiceKit", "SagaAPI", "Credentials", "DeadLetterQueue", "SagaTimeline", "EventSchema", "Kafka", "KafkaCLI", "Messaging",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tools/Console",
            // Taken by ConsoleLocalStackTests for the README; not part of the executable.
            exclude: ["screenshots"]
        ),
        // Open-model load against the Order API, latency from intended send time, and the audit.
        .executableTarget(
            name: "LoadGenerator",
            dependencies: [
                "Kafka", "KafkaCLI", "EventSchema", "DevClusterAPI", "BusAccess", "Credentials", "SagaAPI", "SeededRandom", "SagaTimeline",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Tools/LoadGenerator"
        ),
        .testTarget(
            name: "ServiceTests",
            dependencies: ["ServiceKit", "SagaAPI", "EventSchema", "Kafka", "DevClusterTesting", "DevClusterAPI", "HostileInput", "Persistence",
                           "StoreFixtures", "Locking", .product(name: "PropertyBased", package: "swift-property-based"),
                           "DevCluster", "OrderService", "InventoryService", "PaymentService", "NotificationService",
                           "LoadGenerator", "KafkaTool", .product(name: "HummingbirdTesting", package: "hummingbird"),
                           .product(name: "Yams", package: "Yams")],
            path: "Tests/ServiceTests"
        ),
        // ServiceKit alone, without the four executables: settings, the problem middleware,
        // observability and the Kafka TLS settings.
        .testTarget(
            name: "ServiceKitTests",
            dependencies: ["ServiceKit", "SagaAPI", "KafkaCLI", "Kafka", "Persistence", "Observability", "Deciding", "Messaging", "EventSchema",
                           "SeededRandom", .product(name: "PropertyBased", package: "swift-property-based"),
                           .product(name: "HummingbirdTesting", package: "hummingbird"),
                           .product(name: "Logging", package: "swift-log")],
            path: "Tests/ServiceKitTests"
        ),
        .testTarget(
            name: "ConsoleTests",
            // DevCluster: the embedded brokers ConsoleClusterTests replays a dead letter on.
            dependencies: ["Console", "ServiceKit", "SagaAPI", "Credentials", "DeadLetterQueue", "SagaTimeline", "EventSchema", "Kafka",
                           "DevCluster", "DevClusterTesting",
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "HummingbirdTesting", package: "hummingbird"),
                           .product(name: "AsyncHTTPClient", package: "async-http-client"),
                           .product(name: "Logging", package: "swift-log")],
            path: "Tests/ConsoleTests"
        ),
        .testTarget(
            name: "LoadGeneratorTests",
            dependencies: ["LoadGenerator", "SagaAPI", "SagaTimeline", "Kafka"],
            path: "Tests/LoadGeneratorTests"
        ),
        .testTarget(
            name: "DeployTests",
            // DevCluster: a real Kafka-protocol server for the brokers' health check.
            // BusAccess: the ACLs the compose stack applies.
            // SagaAdmin: make-pki.sh makes the application's keys with it.
            dependencies: ["ServiceKit", "Observability", "EventSchema", "BusAccess", "Kafka", "Persistence", "DevCluster", "DevClusterTesting", "SagaAdmin", "SagaAPI",
                           .product(name: "Yams", package: "Yams")],
            path: "Tests/DeployTests"
        ),
        .testTarget(
            name: "SagaDomainTests",
            dependencies: [
                "OrderCore", "InventoryCore", "PaymentCore", "NotificationCore", "EventSchema", "SeededRandom",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            path: "Tests/SagaDomainTests"
        ),
        .testTarget(
            name: "PersistenceTests",
            // NIOCore: reads the PostgreSQL client sockets' options back.
            dependencies: ["Persistence", "StoreFixtures", "DevClusterTesting", .product(name: "NIOCore", package: "swift-nio")],
            path: "Tests/PersistenceTests"
        ),
        .testTarget(
            name: "MessagingTests",
            dependencies: ["Messaging", "Persistence", "Kafka", "EventSchema", "Credentials", "DevCluster", "DevClusterAPI", "DevClusterTesting", "MessagingHarness",
                           "HostileInput", "StoreFixtures", "SeededRandom", .product(name: "PropertyBased", package: "swift-property-based")],
            path: "Tests/MessagingTests"
        ),
        .testTarget(
            name: "EventSchemaTests",
            dependencies: ["EventSchema", "SeededRandom", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            path: "Tests/EventSchemaTests",
            resources: [.copy("Golden")]
        ),
        .testTarget(
            name: "CredentialsTests",
            dependencies: ["Credentials", "EventSchema", "SeededRandom", .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "PropertyBased", package: "swift-property-based")],
            path: "Tests/CredentialsTests"
        ),
        .testTarget(
            name: "KafkaTests",
            dependencies: ["Kafka", "CRdKafka", "EventSchema", "DevCluster", "DevClusterAPI", "DevClusterTesting", "KafkaTool", "Locking", "SagaAPI"],
            path: "Tests/KafkaTests"
        ),
    ]
)
