import ArgumentParser
import Foundation
import Kafka

/// Produce and consume throughput of this library beside kcat (same librdkafka, same cluster,
/// same properties, same run). Each side runs as its own process and is timed from the
/// outside the same way, start-up and connection included, so the comparison is like for like.
/// kafka-tool produces the way an application streams records: calls of 5,000 records, four
/// of them awaiting acknowledgements while the next is enqueued (`--batch`, `--in-flight`).
///
/// Two figures per direction: whole processes, and the steady state, (N − n) / (T(N) − T(n))
/// with a small run of n records timed the same way, which takes each tool's fixed cost
/// (process start-up, connecting, closing) out of both sides alike.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Throughput of kafka-tool vs kcat: produce and consume, 200-byte values by default.")

    @OptionGroup var connection: ConnectionOptions
    @Option var messages = 100_000
    @Option(help: "Value size in bytes.") var size = 200
    @Option var partitions = 12
    @Option var runs = 3
    @Option(help: "Records of the small run whose time is taken as each tool's fixed cost (steady-state figure).")
    var small = 1000
    @Option var kcat = "/usr/bin/kcat"
    @Option(help: "The dev cluster's control URL (or --control-file): topics are created there, since the mock has no CreateTopics API. Without it, the admin API is used (real Kafka).")
    var controlURL: String?
    @Option(help: "File holding the dev cluster's control URL.") var controlFile: String?
    @Option(name: .customLong("consumer-property"), help: "A librdkafka property for both consumers, key=value (repeatable; -X goes to both producers).")
    var consumerProperties: [String] = []

    /// Seconds each tool took, for the full run and for the small one.
    struct Sample {
        var kcat: Double, swift: Double
        var kcatSmall: Double, swiftSmall: Double
    }

    func validate() throws {
        guard small > 0, small < messages else { throw ValidationError("--small must be above 0 and below --messages") }
    }

    func run() async throws {
        guard FileManager.default.isExecutableFile(atPath: kcat) else {
            throw ValidationError("kcat not found at \(kcat): apt-get install kcat, or pass --kcat PATH")
        }
        let configuration = try connection.configuration()
        let servers = configuration["bootstrap.servers"]!
        // Both clients get exactly the producer properties the platform uses.
        let shared = KafkaConfiguration.producerDefaults.merging(connection.client.properties.reduce(into: [:]) { result, property in
            let parts = property.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { result[parts[0]] = parts[1] }
        }) { _, new in new }
        let propertyArguments = shared.sorted { $0.key < $1.key }.flatMap { ["-X", "\($0.key)=\($0.value)"] }

        let work = FileManager.default.temporaryDirectory.appendingPathComponent("kafka-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let input = work.appendingPathComponent("records.txt")
        let smallInput = work.appendingPathComponent("small.txt")
        let value = String(repeating: "x", count: size)
        try (0..<messages).map { "key-\($0)\t\(value)" }.joined(separator: "\n").appending("\n")
            .write(to: input, atomically: true, encoding: .utf8)
        try (0..<small).map { "key-\($0)\t\(value)" }.joined(separator: "\n").appending("\n")
            .write(to: smallInput, atomically: true, encoding: .utf8)

        let admin = try KafkaAdmin(configuration: configuration)
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        var produce: [Sample] = []
        var consume: [Sample] = []
        var consumed: [Int] = []
        for run in 1...runs {
            let tag = "\(run)-\(UUID().uuidString.prefix(8))"
            let (kcatTopic, swiftTopic) = ("bench-kcat-\(tag)", "bench-swift-\(tag)")
            let (kcatSmallTopic, swiftSmallTopic) = ("bench-kcat-small-\(tag)", "bench-swift-small-\(tag)")
            try await createTopics([kcatTopic, swiftTopic, kcatSmallTopic, swiftSmallTopic], admin: admin)
            // Who goes first alternates: the mock slows down as its logs grow.
            let kcatFirst = run % 2 == 1
            func timeProduce(_ count: Int, from file: URL, kcatTo kcatTarget: String, swiftTo swiftTarget: String) throws -> (Double, Double) {
                try inTurn(kcatFirst: kcatFirst) {
                    try timed(kcat, ["-P", "-b", servers, "-t", kcatTarget, "-K", "\t", "-l", file.path] + propertyArguments)
                } swift: {
                    try timed(me, ["produce", "--bootstrap", servers, "--topic", swiftTarget,
                                   "--count", "\(count)", "--size", "\(size)"] + propertyArguments)
                }
            }
            let (kcatProduce, swiftProduce) = try timeProduce(messages, from: input, kcatTo: kcatTopic, swiftTo: swiftTopic)
            let (kcatProduceSmall, swiftProduceSmall) = try timeProduce(small, from: smallInput, kcatTo: kcatSmallTopic, swiftTo: swiftSmallTopic)
            // The mock keeps only ~5 MiB per partition and drops the oldest batches silently: count
            // what the log really holds, so both consumers read, and are credited with, the same records.
            let held = try await retained(kcatTopic, servers: servers)
            if held < messages {
                FileHandle.standardError.write(Data("run \(run): the cluster kept \(held) of \(messages) records (per-partition size limit); both consumers read \(held). Use more --partitions to keep all.\n".utf8))
            }
            // Both stop after exactly `held` records (kcat -c, kafka-tool --count).
            let consumerArguments = (["fetch.wait.max.ms=5"] + consumerProperties).flatMap { ["-X", $0] }
            // Both consumers read the same records: how a producer batched them changes fetch cost.
            // The small run reads the first records of the same topic.
            func timeConsume(_ count: Int) throws -> (Double, Double) {
                try inTurn(kcatFirst: kcatFirst) {
                    try timed(kcat, ["-C", "-b", servers, "-t", kcatTopic, "-o", "beginning", "-e", "-q", "-c", "\(count)",
                                     "-f", "%k %s\n"] + consumerArguments)
                } swift: {
                    try timed(me, ["consume", "--bootstrap", servers, "--topic", kcatTopic,
                                   "--count", "\(count)", "--quiet"] + consumerArguments)
                }
            }
            guard held > small else {
                throw ValidationError("the cluster kept only \(held) records, not more than --small \(small): use more --partitions")
            }
            let (kcatConsume, swiftConsume) = try timeConsume(held)
            let (kcatConsumeSmall, swiftConsumeSmall) = try timeConsume(small)
            produce.append(Sample(kcat: kcatProduce, swift: swiftProduce, kcatSmall: kcatProduceSmall, swiftSmall: swiftProduceSmall))
            consume.append(Sample(kcat: kcatConsume, swift: swiftConsume, kcatSmall: kcatConsumeSmall, swiftSmall: swiftConsumeSmall))
            print(String(format: "run %d: produce kcat %.0f/s swift %.0f/s (steady %.0f/s, %.0f/s) | consume kcat %.0f/s swift %.0f/s (steady %.0f/s, %.0f/s)",
                         run, Double(messages) / kcatProduce, Double(messages) / swiftProduce,
                         steady(messages, kcatProduce, kcatProduceSmall), steady(messages, swiftProduce, swiftProduceSmall),
                         Double(held) / kcatConsume, Double(held) / swiftConsume,
                         steady(held, kcatConsume, kcatConsumeSmall), steady(held, swiftConsume, swiftConsumeSmall)))
            consumed.append(held)
        }
        await admin.close()
        report("produce", produce, counts: Array(repeating: messages, count: produce.count))
        report("consume", consume, counts: consumed)
    }

    /// Records per second beyond the small run: the fixed cost of a process cancels out.
    private func steady(_ count: Int, _ seconds: Double, _ smallSeconds: Double) -> Double {
        Double(count - small) / max(seconds - smallSeconds, 1e-6)
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

    /// Medians of each tool's rates, and the median of the per-run ratios: both tools of one run
    /// meet the same cluster state (the mock slows as its logs grow), so the paired ratio varies
    /// less from series to series than the ratio of the medians.
    private func report(_ name: String, _ samples: [Sample], counts: [Int]) {
        let runs = Array(zip(samples, counts))
        func line(_ label: String, kcat kcatRate: (Sample, Int) -> Double, swift swiftRate: (Sample, Int) -> Double) {
            let kcat = median(runs.map(kcatRate))
            let swift = median(runs.map(swiftRate))
            let paired = median(runs.map { swiftRate($0, $1) / kcatRate($0, $1) })
            print(String(format: "%@ (%@, median of %d): kcat %.0f msg/s, kafka-tool %.0f msg/s = %.0f%% of kcat; per-run ratio %.0f%%",
                         name, label, samples.count, kcat, swift, swift / kcat * 100, paired * 100))
        }
        line("\(messages) x \(size) B, whole processes", kcat: { Double($1) / $0.kcat }, swift: { Double($1) / $0.swift })
        line("steady state beyond a \(small)-record run", kcat: { steady($1, $0.kcat, $0.kcatSmall) },
             swift: { steady($1, $0.swift, $0.swiftSmall) })
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
