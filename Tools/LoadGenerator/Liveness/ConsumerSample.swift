/// A partition of a topic, as the consumer endpoint and the audit name it.
struct PartitionRef: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    var topic: String
    var partition: Int32

    var description: String { "\(topic)[\(partition)]" }

    static func < (a: PartitionRef, b: PartitionRef) -> Bool { (a.topic, a.partition) < (b.topic, b.partition) }
}

/// Where the consumer groups stood at one moment of the run, read from every instance's
/// GET /consumer and the brokers' high watermarks.
struct ConsumerSample: Sendable, Equatable {
    var takenAt: Int64
    /// Per group: the highest last processed offset any instance reported, per partition.
    var processed: [String: [PartitionRef: Int64]]
    /// Per group: the topics it consumes.
    var topics: [String: [String]]
    /// The offset the next record of each partition will get.
    var highWatermarks: [PartitionRef: Int64]

    /// Every group has processed every record that was on its topics when `reference` was taken.
    func caughtUp(with reference: ConsumerSample, groups: Set<String>) -> Bool {
        groups.allSatisfy { group in
            guard let done = processed[group], let topics = reference.topics[group] ?? self.topics[group] else { return false }
            return reference.highWatermarks.allSatisfy { partition, high in
                !topics.contains(partition.topic) || (done[partition] ?? -1) >= high - 1
            }
        }
    }
}

/// What the run could learn about its consumers over time.
enum ConsumerSamples: Sendable, Equatable {
    case samples([ConsumerSample])
    /// Why there are none (e.g. the services have no GET /consumer yet).
    case unavailable(String)
}
