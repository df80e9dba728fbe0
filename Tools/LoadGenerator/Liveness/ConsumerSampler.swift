import EventSchema
import Foundation
import Kafka
import Logging

/// Samples, about once a second while a run lasts, what every consumer group processed (GET
/// /consumer of every instance, the highest offset per partition) and the brokers' high
/// watermarks: the liveness check finds in them when the consumers caught up after each heal.
///
/// An instance that does not answer (paused, cut off) is left out of that sample; a watermark
/// query that fails (a paused broker) drops the sample. When every instance answers 404 the
/// services have no consumer endpoint, and sampling stops with that reason.
actor ConsumerSampler {
    static let topics = [TopicCatalog.orders, TopicCatalog.inventory, TopicCatalog.payments].map(\.name)

    private let reader: InstanceReader
    private let instances: [ServiceInstance]
    private let watermarks: KafkaWatermarkReader
    private let interval: Duration
    private let logger: Logger
    private var samples: [ConsumerSample] = []
    private var unavailable: String?
    private var task: Task<Void, Never>?

    init(http: ServiceHTTPClient, instances: [ServiceInstance], kafka: KafkaConfiguration,
         interval: Duration = .seconds(1), logger: Logger) throws {
        reader = InstanceReader(http: http)
        self.instances = instances
        watermarks = try KafkaWatermarkReader(configuration: kafka, logger: logger)
        self.interval = interval
        self.logger = logger
    }

    func start() {
        guard task == nil else { return }
        task = Task { await self.loop() }
    }

    /// Keeps sampling until the consumers have processed what was on their topics at `heal`
    /// (Unix ms), or until `bound` after it: a run whose load and drain end soon after its
    /// last heal (a slow heal eats the recovery phase) must not judge the recovery on the few
    /// samples taken before it stops.
    func awaitCatchUp(after heal: Int64, bound: Duration) async {
        let deadline = heal + Int64(bound.milliseconds)
        while unavailable == nil, WallClock.unixMillis() < deadline, !Task.isCancelled {
            let after = samples.filter { $0.takenAt >= heal }
            let groups = Set(samples.flatMap { $0.processed.keys })
            if let reference = after.first, !groups.isEmpty,
               after.contains(where: { $0.caughtUp(with: reference, groups: groups) }) { return }
            try? await Task.sleep(for: interval)
        }
    }

    /// Stops sampling and returns what was gathered.
    func stop() async -> ConsumerSamples {
        task?.cancel()
        await task?.value
        await watermarks.close()
        if let unavailable { return .unavailable(unavailable) }
        return .samples(samples)
    }

    private func loop() async {
        while !Task.isCancelled {
            let due = ContinuousClock.now + interval
            await sampleOnce()
            if unavailable != nil { return }
            try? await Task.sleep(until: due, clock: .continuous)
        }
    }

    private func sampleOnce() async {
        let takenAt = WallClock.unixMillis()
        let consumers = await withTaskGroup(of: InstanceState.Consumer.self) { group in
            for instance in instances {
                group.addTask { [reader] in await reader.consumer(of: instance, timeout: .seconds(2)) }
            }
            var all: [InstanceState.Consumer] = []
            for await consumer in group { all.append(consumer) }
            return all
        }
        if !consumers.isEmpty, consumers.allSatisfy({ $0 == .missing }) {
            unavailable = "endpoint missing: GET /consumer answered 404 on every instance"
            return
        }
        let high: [TopicPartition: Watermarks]
        do {
            high = try await watermarks.watermarks(topics: Self.topics, timeout: .seconds(2))
        } catch {
            logger.debug("consumer sample skipped: \(error)")
            return
        }
        var sample = ConsumerSample(takenAt: takenAt, processed: [:], topics: [:], highWatermarks: [:])
        for (partition, extent) in high {
            sample.highWatermarks[PartitionRef(topic: partition.topic, partition: partition.partition)] = extent.high
        }
        for case .view(let view) in consumers {
            sample.topics[view.group] = Array(Set(sample.topics[view.group] ?? []).union(view.topics)).sorted()
            for partition in view.partitions {
                let ref = PartitionRef(topic: partition.topic, partition: partition.partition)
                sample.processed[view.group, default: [:]][ref] = max(sample.processed[view.group]?[ref] ?? -1, partition.lastProcessedOffset)
            }
        }
        samples.append(sample)
    }
}

enum WallClock {
    static func unixMillis(_ date: Date = Date()) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
}
