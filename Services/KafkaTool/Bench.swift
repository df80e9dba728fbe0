import ArgumentParser
import Foundation
import Kafka

/// Produce and consume throughput of this library beside kcat (same librdkafka, same cluster,
/// same properties, same run). Each side runs as its own process and is timed from the
/// outside the same way, start-up and connection included, so the comparison is like for like.
/// kafka-tool produces the way an application streams records: calls of 5,000 records, four
/// of them awaiting acknowledgements while the next is enqueued (`--batch`, `--in-flight`).
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Throughput of kafka-tool vs kcat: produce and consume, 200-byte values by default.")

    @OptionGroup var connection: ConnectionOptions
    @Option var messages = 100_000
    @Option(help: "Value size in bytes.") var size = 200
    @Option var partitions = 12
    @Option var runs = 3
    @Option var kcat = "/usr/bin/kcat"
    @Option(help: "The dev cluster's control URL (or --control-file): topics are created there, since the mock has no CreateTopics API. Without it, the admin API is used (real Kafka).")
    var controlURL: String?
    @Option(help: "File holding the dev cluster's control URL.") var controlFile: String?
    @Option(name: .customLong("consumer-property"), help: "A librdkafka property for both consumers, key=value (repeatable; -X goes to both producers).")
    var consumerProperties: [String] = []

    struct Sample { var kcat: Double; var swift: Double }

    func run() async throws {
        guard FileManager.default.isExecutableFile(atPath: kcat) else {
            throw ValidationError("kcat not found at \(kcat): apt-get install kcat, or pass --kcat PATH")
        }
        let configuration = try connection.configuration()
        let servers = configuration["bootstrap.servers"]!
        // Both clients get exactly the producer properties the platform uses.
        let shared = KafkaConfiguration.producerDefaults.merging(connection.properties.reduce(into: [:]) { result, property in
            let parts = property.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { result[parts[0]] = parts[1] }
        }) { _, new in new }
        let propertyArguments = shared.sorted { $0.key < $1.key }.flatMap { ["-X", "\($0.key)=\($0.value)"] }

        let work = FileManager.default.temporaryDirectory.appendingPathComponent("kafka-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let input = work.appendingPathComponent("records.txt")
        let value = String(repeating: "x", count: size)
        try (0..<messages).map { "key-\($0)\t\(value)" }.joined(separator: "\n").appending("\n")
            .write(to: input, atomically: true, encoding: .utf8)

        let admin = try KafkaAdmin(configuration: configuration)
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        var produce: [Sample] = []
        var consume: [Sample] = []
        for run in 1...runs {
            let kcatTopic = "bench-kcat-\(run)-\(UUID().uuidString.prefix(8))"
            let swiftTopic = "bench-swift-\(run)-\(UUID().uuidString.prefix(8))"
            try await createTopics([kcatTopic, swiftTopic], admin: admin)
            // Who goes first alternates: the mock slows down as its logs grow.
            let kcatFirst = run % 2 == 1
            let (kcatProduce, swiftProduce) = try inTurn(kcatFirst: kcatFirst) {
                try timed(kcat, ["-P", "-b", servers, "-t", kcatTopic, "-K", "\t", "-l", input.path] + propertyArguments)
            } swift: {
                try timed(me, ["produce", "--bootstrap", servers, "--topic", swiftTopic,
                               "--count", "\(messages)", "--size", "\(size)"] + propertyArguments)
            }
            // The mock keeps only ~5 MiB per partition and drops the oldest batches silently: count
            // what the log really holds, so both consumers read, and are credited with, the same records.
            let held = try await retained(kcatTopic, servers: servers)
            if held < messages {
                FileHandle.standardError.write(Data("run \(run): the cluster kept \(held) of \(messages) records (per-partition size limit); both consumers read \(held). Use more --partitions to keep all.\n".utf8))
            }
            // Both stop after exactly `held` records (kcat -c, kafka-tool --count).
            let consumerArguments = (["fetch.wait.max.ms=5"] + consumerProperties).flatMap { ["-X", $0] }
            // Both consumers read the same records: how a producer batched them changes fetch cost.
            let (kcatConsume, swiftConsume) = try inTurn(kcatFirst: kcatFirst) {
                try timed(kcat, ["-C", "-b", servers, "-t", kcatTopic, "-o", "beginning", "-e", "-q", "-c", "\(held)",
                                 "-f", "%k %s\n"] + consumerArguments)
            } swift: {
                try timed(me, ["consume", "--bootstrap", servers, "--topic", kcatTopic,
                               "--count", "\(held)", "--quiet"] + consumerArguments)
            }
            produce.append(Sample(kcat: Double(messages) / kcatProduce, swift: Double(messages) / swiftProduce))
            consume.append(Sample(kcat: Double(held) / kcatConsume, swift: Double(held) / swiftConsume))
            print(String(format: "run %d: produce kcat %.0f/s swift %.0f/s | consume kcat %.0f/s swift %.0f/s",
                         run, produce.last!.kcat, produce.last!.swift, consume.last!.kcat, consume.last!.swift))
        }
        await admin.close()
        report("produce", produce)
        report("consume", consume)
    }

    /// Runs both measurements in the given order; returns (kcat, swift).
    private func inTurn(kcatFirst: Bool, kcat: () throws -> Double, swift: () throws -> Double) throws -> (Double, Double) {
        if kcatFirst {
            let first = try kcat()
            return (first, try swift())
        }
        let first = try swift()
        return (try kcat(), first)
    }

    private func createTopics(_ names: [String], admin: KafkaAdmin) async throws {
        let control = try controlURL ?? controlFile.map {
            try String(contentsOfFile: $0, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let control else {
            _ = try await admin.createTopics(names.map { NewTopic(name: $0, partitions: partitions, replicationFactor: 3) })
            return
        }
        for name in names {
            _ = try timed("/usr/bin/curl", ["-fsS", "-X", "POST", "\(control)/topics/\(name)?partitions=\(partitions)"])
        }
    }

    /// Records the topic's log holds now (sum of high - low watermarks).
    private func retained(_ topic: String, servers: String) async throws -> Int {
        let reader = try KafkaWatermarkReader(configuration: KafkaConfiguration(bootstrapServers: servers))
        let marks: [TopicPartition: Watermarks]
        do {
            marks = try await reader.watermarks(topics: [topic])
        } catch {
            await reader.close()
            throw error
        }
        await reader.close() // before the next timed run, not during it
        return Int(marks.values.reduce(0) { $0 + ($1.high - $1.low) })
    }

    private func report(_ name: String, _ samples: [Sample]) {
        let kcat = median(samples.map(\.kcat))
        let swift = median(samples.map(\.swift))
        print(String(format: "%@ (median of %d, %d x %d B): kcat %.0f msg/s, kafka-tool %.0f msg/s = %.0f%% of kcat",
                     name, samples.count, messages, size, kcat, swift, swift / kcat * 100))
    }

    private func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }

    /// Wall-clock seconds of one process run; fails if it exits non-zero.
    private func timed(_ executable: String, _ arguments: [String]) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        let start = ContinuousClock.now
        try process.run()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let elapsed = ContinuousClock.now - start
        guard process.terminationStatus == 0 else {
            throw ValidationError("\(executable) \(arguments.prefix(2).joined(separator: " ")) failed (\(process.terminationStatus)): \(String(decoding: stderr, as: UTF8.self))")
        }
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}
