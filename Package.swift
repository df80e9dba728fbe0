// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "OrderSaga",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Kafka", targets: ["Kafka"]),
        .library(name: "EventSchema", targets: ["EventSchema"]),
        .executable(name: "dev-cluster", targets: ["DevCluster"]),
        .executable(name: "kafka-tool", targets: ["KafkaTool"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
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
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Shared/Kafka"
        ),
        // The contract between services: protobuf events, the header envelope, the topic catalog.
        .target(
            name: "EventSchema",
            dependencies: [
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            path: "Shared/EventSchema",
            exclude: ["Contracts"]
        ),
        // Embedded 3-broker Kafka (librdkafka's mock cluster) with fault-injection controls.
        .executableTarget(
            name: "DevCluster",
            dependencies: [
                "CRdKafka", "EventSchema",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Services/DevCluster",
            exclude: ["README.md"]
        ),
        // Produce / consume / benchmark from the command line with our Kafka library.
        .executableTarget(
            name: "KafkaTool",
            dependencies: [
                "Kafka", "EventSchema",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Services/KafkaTool"
        ),
        .testTarget(
            name: "EventSchemaTests",
            dependencies: ["EventSchema"],
            path: "Tests/EventSchemaTests",
            resources: [.copy("Golden")]
        ),
        .testTarget(
            name: "KafkaTests",
            dependencies: ["Kafka", "EventSchema", "DevCluster", "KafkaTool"],
            path: "Tests/KafkaTests"
        ),
    ]
)
