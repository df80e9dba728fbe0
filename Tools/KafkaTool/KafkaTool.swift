import ArgumentParser
import BusAccess
import EventSchema
import Foundation
import Kafka
import KafkaCLI
import Logging

@main
struct KafkaTool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-tool",
        abstract: "Produce, consume, create the catalog's topics and ACLs, benchmark, inspect and replay dead letters, show and reset stored offsets, with the platform's own Kafka library.",
        subcommands: [Produce.self, Consume.self, CreateTopics.self, Describe.self, Bench.self, CodecBench.self, StorageBench.self,
                      DeadLetters.self, Offsets.self, ACLs.self])
}

/// Where the cluster is and how to talk to it; shared by every subcommand. TLS settings fall
/// back to the KAFKA_TLS_* variables, so a subcommand that builds its connection from parts
/// (`offsets`) keeps them.
struct ConnectionOptions: ParsableArguments {
    /// The client id, and the prefix of the group ids kafka-tool may use (the operator's ACLs,
    /// `BusAccess`): its partition readers' throwaway groups and `consume --group`.
    static let clientID = BusAccess.operatorTool

    @Option(help: "Bootstrap servers, host:port[,host:port]. Default: $KAFKA_BOOTSTRAP.")
    var bootstrap: String?

    @Option(help: "Read the bootstrap servers from this file (the dev cluster writes one).")
    var bootstrapFile: String?

    @Flag(help: "Apply the short timeouts the embedded dev cluster needs (see Tools/DevCluster/README.md).")
    var devCluster = false

    @OptionGroup var client: KafkaClientOptions

    /// Whether a cluster is named at all (for subcommands to which Kafka is optional).
    func isGiven(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        bootstrap != nil || bootstrapFile != nil || !(environment[KafkaBootstrap.listVariable] ?? "").isEmpty
            || !(environment[KafkaBootstrap.fileVariable] ?? "").isEmpty
    }

    func configuration(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> KafkaConfiguration {
        let servers: String
        do {
            servers = try KafkaBootstrap.servers(list: bootstrap, file: bootstrapFile, environment: environment)
        } catch let failure as KafkaBootstrap.Failure {
            throw ValidationError(failure.description)
        }
        var configuration = KafkaConfiguration(bootstrapServers: servers, ["client.id": Self.clientID])
        if devCluster { configuration = configuration.merging(KafkaConfiguration.devClusterTuning) }
        return try client.apply(to: configuration, environment: environment)
    }
}

func makeLogger(_ label: String) -> Logger {
    var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
    return logger
}

struct Produce: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Produce COUNT records of SIZE bytes, keyed PREFIX-N; prints one JSON line per record with --print.")

    @OptionGroup var connection: ConnectionOptions
    @Option var topic: String
    @Option var count = 1000
    @Option(help: "Value size in bytes.") var size = 200
    @Option var keyPrefix = "key"
    @Option(help: "Records per enqueue call.") var batch = 5000
    @Option(help: "Calls whose acknowledgements may be outstanding at once.") var inFlight = 4
    @Option(name: .customLong("header"), help: "A header on every record, name=value (repeatable).") var headers: [String] = []
    @Flag(help: "Print where each record landed.") var print = false
    @Flag(help: "Print progress timings on stderr.") var timing = false

    func run() async throws {
        let producer = try KafkaProducer(configuration: try connection.configuration(), logger: makeLogger("kafka-tool.produce"))
        let recordHeaders = headers.map { header -> KafkaHeader in
            let parts = header.split(separator: "=", maxSplits: 1).map(String.init)
            return KafkaHeader(key: parts[0], text: parts.count > 1 ? parts[1] : "")
        }
        let value = [UInt8](repeating: UInt8(ascii: "x"), count: size)
        var failures = 0
        var sent = 0
        let t0 = ContinuousClock.now
        let (topic, keyPrefix, count, batch, print) = (topic, keyPrefix, count, batch, print)
        let prefix = Array("\(keyPrefix)-".utf8)
        // Up to `inFlight` calls wait for acknowledgements while the next one is enqueued.
        var window: [(first: Int, deliveries: Deliveries)] = []
        func settleOldest() async {
            let (first, deliveries) = window.removeFirst()
            let outcomes = await deliveries.results()
            for (i, outcome) in outcomes.enumerated() {
                switch outcome {
                case .success(let report) where print:
                    Swift.print(#"{"key":"\#(keyPrefix)-\#(first + i)","partition":\#(report.partition),"offset":\#(report.offset)}"#)
                case .success: break
                case .failure(let error):
                    failures += 1
                    FileHandle.standardError.write(Data("record \(keyPrefix)-\(first + i): \(error)\n".utf8))
                }
            }
            if timing { FileHandle.standardError.write(Data("acknowledged \(first)..<\(first + outcomes.count) at \(ContinuousClock.now - t0)\n".utf8)) }
        }
        while sent < count {
            let upper = min(count, sent + batch)
            let messages = (sent..<upper).map { i in
                OutgoingMessage(topic: topic, key: numberedKey(prefix, i), value: value, headers: recordHeaders)
            }
            window.append((sent, await producer.enqueue(messages)))
            sent = upper
            if window.count >= inFlight { await settleOldest() }
        }
        while !window.isEmpty { await settleOldest() }
        await producer.close()
        if timing { FileHandle.standardError.write(Data("closed at \(ContinuousClock.now - t0)\n".utf8)) }
        if failures > 0 { throw ExitCode(1) }
    }
}

/// `prefix` followed by `n` in decimal, built as bytes in one allocation (no String per record).
private func numberedKey(_ prefix: [UInt8], _ n: Int) -> [UInt8] {
    var digitCount = 1
    var rest = n / 10
    while rest > 0 { digitCount += 1; rest /= 10 }
    return [UInt8](unsafeUninitializedCapacity: prefix.count + digitCount) { buffer, initialized in
        _ = buffer.initialize(from: prefix)
        var digits = n
        for position in stride(from: prefix.count + digitCount - 1, through: prefix.count, by: -1) {
            buffer[position] = UInt8(ascii: "0") + UInt8(digits % 10)
            digits /= 10
        }
        initialized = prefix.count + digitCount
    }
}

struct Consume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Consume and print one JSON line per record (topic, partition, offset, key, value size, headers).")

    @OptionGroup var connection: ConnectionOptions
    @Option var topic: String
    @Option(help: "Join this consumer group (offsets committed after each printed batch). Without it, read every partition from the beginning.")
    var group: String?
    @Option(help: "Stop after this many records.") var count: Int?
    @Option(help: "Stop after this many seconds without a record.") var idleExit: Double?
    @Option(name: .customLong("batch"), help: "Records per poll at most.") var batchSize = 5000
    @Flag(help: "Print nothing per record; only the final count on stderr.") var quiet = false
    @Flag(help: "Print progress timings on stderr.") var timing = false

    func run() async throws {
        let t0 = ContinuousClock.now
        let configuration = try connection.configuration()
        let logger = makeLogger("kafka-tool.consume")
        let consumer: KafkaConsumer
        if let group {
            consumer = try KafkaConsumer(configuration: configuration, groupID: group, topics: [topic], logger: logger)
        } else {
            // One client, like kcat: the consumer learns the partitions from its own metadata request.
            do {
                consumer = try await KafkaConsumer(configuration: configuration, topics: [topic], startingAt: KafkaConsumer.beginning, logger: logger)
            } catch let error as KafkaError {
                throw ValidationError("cannot read topic \(topic): \(error)")
            }
        }
        var received = 0
        var polls = 0
        var lastRecord = ContinuousClock.now
        let out = FileHandle.standardOutput
        while count.map({ received < $0 }) ?? true {
            let pollStart = ContinuousClock.now
            let batch = try await consumer.poll(maxMessages: min(batchSize, count.map { $0 - received } ?? batchSize))
            polls += 1
            if timing && ContinuousClock.now - pollStart > .milliseconds(20) {
                FileHandle.standardError.write(Data("slow poll: \(ContinuousClock.now - pollStart) -> \(batch.count) at \(received)\n".utf8))
            }
            if batch.isEmpty {
                if let idleExit, ContinuousClock.now - lastRecord > .milliseconds(Int(idleExit * 1000)) { break }
                continue
            }
            lastRecord = .now
            if timing && received == 0 { FileHandle.standardError.write(Data("first batch (\(batch.count)) at \(ContinuousClock.now - t0)\n".utf8)) }
            let before = received
            received += batch.count
            if timing && received / 50_000 > before / 50_000 {
                FileHandle.standardError.write(Data("\(received) at \(ContinuousClock.now - t0)\n".utf8))
            }
            if !quiet {
                var lines = ""
                for message in batch {
                    let key = message.key.map { String(decoding: $0, as: UTF8.self) } ?? ""
                    let headers = message.headers.map { "\"\($0.key)\"" }.joined(separator: ",")
                    lines += #"{"topic":"\#(message.topic)","partition":\#(message.partition),"offset":\#(message.offset),"key":"\#(key)","size":\#(message.value?.count ?? 0),"headers":[\#(headers)]}"# + "\n"
                }
                out.write(Data(lines.utf8))
            }
            if group != nil {
                var next: [TopicPartition: Int64] = [:]
                for message in batch { next[message.topicPartition] = message.offset + 1 }
                await consumer.commit(next)
            }
        }
        if timing { FileHandle.standardError.write(Data("last at \(ContinuousClock.now - t0), \(polls) polls\n".utf8)) }
        await consumer.close()
        if timing { FileHandle.standardError.write(Data("closed at \(ContinuousClock.now - t0)\n".utf8)) }
        FileHandle.standardError.write(Data("consumed \(received)\n".utf8))
    }
}

struct CreateTopics: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-topics",
        abstract: "Create every topic of the catalog (idempotent): the compose stack's topic-init job.")

    @OptionGroup var connection: ConnectionOptions
    @Option var partitions = TopicCatalog.defaultPartitions
    @Option var replicationFactor = TopicCatalog.replicationFactor
    @Option var minInsyncReplicas = TopicCatalog.minInSyncReplicas

    func run() async throws {
        let admin = try KafkaAdmin(configuration: try connection.configuration(), logger: makeLogger("kafka-tool.admin"))
        let topics = TopicCatalog.all.map {
            NewTopic(name: $0.name, partitions: partitions, replicationFactor: replicationFactor,
                     configs: ["min.insync.replicas": "\(minInsyncReplicas)"])
        }
        let outcome = try await admin.createTopics(topics)
        await admin.close()
        for topic in TopicCatalog.all {
            print("\(topic.name): \(outcome[topic.name]?.rawValue ?? "unknown")")
        }
    }
}

struct Describe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print brokers and, per topic, the leader of each partition.")

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let admin = try KafkaAdmin(configuration: try connection.configuration(), logger: makeLogger("kafka-tool.admin"))
        let metadata = try await admin.metadata()
        await admin.close()
        for (id, address) in metadata.brokers.sorted(by: { $0.key < $1.key }) { print("broker \(id) \(address)") }
        for topic in metadata.topics.values.sorted(by: { $0.name < $1.name }) {
            print("\(topic.name) partitions=\(topic.partitions.count) leaders=\(topic.partitions.map { String($0.leader) }.joined(separator: ","))")
        }
    }
}
