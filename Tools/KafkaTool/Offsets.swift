import ArgumentParser
import Foundation
import Kafka
import Messaging
import Persistence

/// `kafka-tool offsets show | reset`: the offsets a service stored in its own database (the
/// truth its consumer starts from), beside each partition's log, and an operator's reset.
struct Offsets: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show or reset the offsets a service stored in its database (what its consumer resumes from).",
        subcommands: [Show.self, Reset.self])

    struct Target: ParsableArguments {
        @Option(help: "The service's database: sqlite:///path/service.db or postgres://user:pw@host:port/db (its DATABASE_URL).")
        var database: String
        @Option(help: "The consumer group: the service's name (order, inventory, payment, notification).")
        var group: String
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per partition: the last processed offset, and with a bootstrap, the log's start and end and what is wrong.")
        @OptionGroup var target: Target
        /// Optional: with a bootstrap (flag or KAFKA_BOOTSTRAP), the offsets are compared with the logs.
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let database = try await openDatabase(url: target.database, logger: makeLogger("kafka-tool.offsets"))
            let stored = try await StoredOffsets.load(group: target.group, from: database)
            await database.close()
            var marks: [TopicPartition: Watermarks] = [:]
            if connection.isGiven() {
                let reader = try KafkaWatermarkReader(configuration: try connection.configuration(), logger: makeLogger("kafka-tool.offsets"))
                marks = (try? await reader.watermarks(topics: Array(Set(stored.keys.map(\.topic))).sorted())) ?? [:]
                await reader.close()
            }
            if stored.isEmpty { FileHandle.standardError.write(Data("no offsets stored for group \(target.group)\n".utf8)) }
            for (partition, last) in stored.sorted(by: { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }) {
                var line = "\(partition) last processed \(last)"
                if let marks = marks[partition] {
                    line += ", log \(marks.low)..<\(marks.high)"
                    if last + 1 > marks.high {
                        line += ": BEYOND THE LOG END (reset it: the topic was recreated or the cluster lost its data)"
                    } else if last + 1 < marks.low {
                        line += ": BEFORE THE LOG START (records \(last + 1)...\(marks.low - 1) are gone)"
                    } else {
                        line += ", lag \(marks.high - last - 1)"
                    }
                }
                print(line)
            }
        }
    }

    struct Reset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set where one partition resumes. A consumer holding the partition for an offset anomaly picks it up within seconds; stop the service first to move a partition it is consuming.")
        @OptionGroup var target: Target
        @Option var topic: String
        @Option var partition: Int32
        @Option(help: "The next offset to read (records before it count as processed).") var to: Int64?
        @Flag(help: "Resume from the log's start (needs a bootstrap).") var toEarliest = false
        @Flag(help: "Resume from the log's end, skipping what is there (needs a bootstrap).") var toLatest = false
        /// For --to-earliest / --to-latest.
        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            guard [to != nil, toEarliest, toLatest].filter({ $0 }).count == 1 else {
                throw ValidationError("say exactly one of --to N, --to-earliest, --to-latest")
            }
            if let to, to < 0 { throw ValidationError("--to must be an offset >= 0") }
        }

        func run() async throws {
            let target = TopicPartition(topic: topic, partition: partition)
            var next = to ?? 0
            if to == nil {
                guard connection.isGiven() else {
                    throw ValidationError("--to-earliest and --to-latest need --bootstrap, --bootstrap-file or KAFKA_BOOTSTRAP")
                }
                let reader = try KafkaWatermarkReader(configuration: try connection.configuration(), logger: makeLogger("kafka-tool.offsets"))
                let marks = try await reader.watermarks(topics: [topic])
                await reader.close()
                guard let partitionMarks = marks[target] else { throw ValidationError("\(topic) has no partition \(partition)") }
                next = toEarliest ? partitionMarks.low : partitionMarks.high
            }
            let database = try await openDatabase(url: self.target.database, logger: makeLogger("kafka-tool.offsets"))
            let before = try await StoredOffsets.load(group: self.target.group, from: database)[target]
            try await StoredOffsets.reset(group: self.target.group, partition: target, lastProcessed: next - 1, in: database)
            await database.close()
            print("\(self.target.group) \(target): last processed \(before.map(String.init) ?? "none") -> \(next - 1) (resumes at \(next))")
        }
    }
}
