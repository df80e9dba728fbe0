import CRdKafka

/// librdkafka properties (see librdkafka's CONFIGURATION.md) with the presets this platform relies on.
///
/// Kept as plain key/value strings on purpose: every librdkafka property stays reachable,
/// and a misspelt key fails loudly when the client is created.
public struct KafkaConfiguration: Sendable {
    public var properties: [String: String]

    public init(bootstrapServers: String, _ properties: [String: String] = [:]) {
        self.properties = properties
        self.properties["bootstrap.servers"] = bootstrapServers
    }

    public subscript(key: String) -> String? {
        get { properties[key] }
        set { properties[key] = newValue }
    }

    /// Returns a copy with `other` applied on top.
    public func merging(_ other: [String: String]) -> KafkaConfiguration {
        var copy = self
        copy.properties.merge(other) { _, new in new }
        return copy
    }

    /// Producer defaults: idempotent (`acks=all`, in-order retries without duplicates on a
    /// real cluster) and the Java client's partitioner so every tool agrees where a key lives.
    public static let producerDefaults: [String: String] = [
        "enable.idempotence": "true",
        "acks": "all",
        "partitioner": "murmur2_random",
        "linger.ms": "1",
    ]

    /// Consumer defaults: offsets are the application's business (stored in its database),
    /// so librdkafka neither commits nor stores them on its own.
    ///
    /// `queued.min.messages` is documented per partition, but a consumer that forwards its
    /// partitions into one queue (ours) is measured against that whole queue: a backlog of a
    /// few partitions reaches the default 100,000, and librdkafka 2.0 then stops fetching for
    /// about a second (librdkafka #2879; 2.2 added `fetch.queue.backoff.ms`). Memory stays bounded by
    /// `queued.max.messages.kbytes` (64 MiB by default).
    public static let consumerDefaults: [String: String] = [
        "enable.auto.commit": "false",
        "enable.auto.offset.store": "false",
        "auto.offset.reset": "earliest",
        "enable.partition.eof": "false",
        "queued.min.messages": "1000000",
    ]

    /// Tuning for the embedded dev cluster (librdkafka's mock, see Tools/DevCluster/README.md):
    /// the mock completes a group join only after `session.timeout.ms - 1 s` and answers an empty
    /// fetch only after `fetch.wait.max.ms`, so both are kept short; a short socket timeout makes
    /// clients give up on a paused broker quickly and fail over to the leader the cluster moved.
    /// 10 ms rather than 5: every caught-up fetch makes the mock scan each partition's whole log
    /// (its `rd_kafka_mock_msgset_find` has no index), so idle fetch rounds are its main cost as
    /// the logs grow; halving them lowered the tail latency at 200 orders/s
    /// (deploy/bench/results/2026-12-05-numbers.md).
    public static let devClusterTuning: [String: String] = [
        "session.timeout.ms": "3000",
        "heartbeat.interval.ms": "500",
        "fetch.wait.max.ms": "10",
        "socket.timeout.ms": "5000",
        "topic.metadata.refresh.interval.ms": "5000",
        "reconnect.backoff.max.ms": "1000",
    ]

    /// Builds the C configuration object; throws on an unknown key or an invalid value.
    func makeNativeConfiguration(excluding excluded: Set<String> = []) throws -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        var errorText = [CChar](repeating: 0, count: 512)
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) where !excluded.contains(key) {
            let result = rd_kafka_conf_set(conf, key, value, &errorText, errorText.count)
            if result != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                let reason = text(errorText)
                throw KafkaError.local("invalid property \(key)=\(value): \(reason)", operation: "configure")
            }
        }
        return conf
    }
}
