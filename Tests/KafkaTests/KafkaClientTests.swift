@testable import DevClusterTesting
import EventSchema
import Foundation
import Kafka
import Logging
import Locking
import XCTest

/// The Kafka library against the embedded dev cluster, started as a separate process per test.
final class KafkaClientTests: XCTestCase {
    private var cluster: DevClusterHarness!

    override func setUpWithError() throws {
        cluster = try DevClusterHarness()
    }

    override func tearDown() {
        cluster?.stop()
        cluster = nil
    }

    private var configuration: KafkaConfiguration {
        KafkaConfiguration(bootstrapServers: cluster.bootstrap).merging(KafkaConfiguration.devClusterTuning)
    }

    private func freshTopic(partitions: Int = 12) throws -> String {
        let name = "test-\(UUID().uuidString.prefix(8))"
        let result = try cluster.call("POST", "/topics/\(name)?partitions=\(partitions)")
        XCTAssertEqual(result.status, 200, result.body)
        return name
    }

    /// Reads until `count` records arrived or `timeout` passed.
    private func drain(_ consumer: KafkaConsumer, count: Int, timeout: Duration = .seconds(30)) async throws -> [ConsumedMessage] {
        var received: [ConsumedMessage] = []
        let deadline = ContinuousClock.now + timeout
        while received.count < count && ContinuousClock.now < deadline {
            received += try await consumer.poll(maxMessages: 1000, timeout: .milliseconds(200))
        }
        return received
    }

    func testRoundTripKeepsKeyValueAndHeaders() async throws {
        let topic = try freshTopic()
        let producer = try KafkaProducer(configuration: configuration)
        let headers = [KafkaHeader(key: "event-type", text: "OrderPlaced"), KafkaHeader(key: "empty", value: []),
                       KafkaHeader(key: "null", value: nil), KafkaHeader(key: "binary", value: [0, 1, 255])]
        let report = try await producer.send(OutgoingMessage(topic: topic, key: Array("order-1".utf8),
                                                             value: Array("payload".utf8), headers: headers))
        await producer.close()
        XCTAssertEqual(report.topic, topic)

        let consumer = try KafkaConsumer(configuration: configuration, groupID: "roundtrip", topics: [topic])
        let messages = try await drain(consumer, count: 1)
        await consumer.close()
        let message = try XCTUnwrap(messages.first)
        XCTAssertEqual(message.partition, report.partition)
        XCTAssertEqual(message.offset, report.offset)
        XCTAssertEqual(message.key, Array("order-1".utf8))
        XCTAssertEqual(message.value, Array("payload".utf8))
        XCTAssertEqual(message.headers, headers)
        XCTAssertNotNil(message.timestampMs)
    }

    /// Several enqueue calls in flight at once keep per-key order; a consumed chunk's shared
    /// buffer gives every record back its own key and value, null told apart from empty.
    func testEnqueuedCallsInFlightKeepPerKeyOrderAndConsumedBytesStayExact() async throws {
        let topic = try freshTopic(partitions: 3)
        let producer = try KafkaProducer(configuration: configuration)
        func record(_ n: Int) -> OutgoingMessage {
            let key: [UInt8]? = n % 7 == 0 ? nil : Array("key-\(n % 5)".utf8)
            let value: [UInt8]? = n % 11 == 0 ? nil : (n % 13 == 0 ? [] : Array("value-\(n)".utf8))
            return OutgoingMessage(topic: topic, key: key, value: value, headers: [KafkaHeader(key: "n", text: "\(n)")])
        }
        let calls = [
            await producer.enqueue((0..<400).map(record)),
            await producer.enqueue((400..<800).map(record)),
            await producer.enqueue((800..<1200).map(record)),
        ]
        var reports: [DeliveryReport] = []
        for call in calls { reports += try await call.results().map { try $0.get() } }
        await producer.close()
        XCTAssertEqual(reports.count, 1200)

        // Records of one key share a partition: enqueue order must be offset order there.
        var lastOffset: [String: Int64] = [:]
        for (n, report) in reports.enumerated() {
            guard let key = record(n).key.map({ String(decoding: $0, as: UTF8.self) }) else { continue }
            XCTAssertGreaterThan(report.offset, lastOffset[key] ?? -1, "record \(n) of \(key)")
            lastOffset[key] = report.offset
        }

        let consumer = try await KafkaConsumer(configuration: configuration, topics: [topic], startingAt: KafkaConsumer.beginning)
        let messages = try await drain(consumer, count: 1200)
        await consumer.close()
        XCTAssertEqual(messages.count, 1200)
        for message in messages {
            let n = try XCTUnwrap(message.header("n").flatMap { Int(String(decoding: $0, as: UTF8.self)) })
            XCTAssertEqual(message.key, record(n).key, "key of record \(n)")
            XCTAssertEqual(message.value, record(n).value, "value of record \(n)")
        }
    }

    func testKeyedRecordsLandInMurmur2Partition() async throws {
        let topic = try freshTopic(partitions: 12)
        let producer = try KafkaProducer(configuration: configuration)
        let keys = (0..<300).map { "order-\($0)-\(UUID().uuidString)" }
        let results = try await producer.send(keys.map { OutgoingMessage(topic: topic, key: Array($0.utf8), value: [1]) })
        await producer.close()
        for (key, result) in zip(keys, results) {
            let report = try result.get()
            XCTAssertEqual(report.partition, Murmur2Partitioner.partition(forKey: key, partitionCount: 12), key)
        }
        // And an independent client agrees: kcat reads each key from that partition.
        let sample = keys[7]
        let expected = Murmur2Partitioner.partition(forKey: sample, partitionCount: 12)
        let read = try Kcat.run(["-C", "-b", cluster.bootstrap, "-t", topic, "-p", "\(expected)", "-o", "beginning",
                                 "-e", "-q", "-f", "%k\n"])
        XCTAssert(read.stdout.split(separator: "\n").contains(Substring(sample)), "kcat did not find \(sample) in partition \(expected)")
    }

    func testAssignmentStartsAtTheOffsetsTheApplicationSupplies() async throws {
        let topic = try freshTopic(partitions: 3)
        let producer = try KafkaProducer(configuration: configuration)
        var messages: [OutgoingMessage] = []
        for partition in 0..<3 {
            for i in 0..<10 {
                messages.append(OutgoingMessage(topic: topic, key: nil, value: Array("\(partition)-\(i)".utf8), partition: Int32(partition)))
            }
        }
        _ = try await producer.send(messages)
        await producer.close()

        let assigned = Protected<[TopicPartition]>([])
        let hooks = RebalanceHooks(onAssign: { partitions in
            assigned.update { $0 += partitions }
            // Pretend the database says: partition p processed up to offset 3 + p.
            return Dictionary(uniqueKeysWithValues: partitions.map { ($0, Int64(4 + $0.partition)) })
        })
        let consumer = try KafkaConsumer(configuration: configuration, groupID: "seek-\(topic)", topics: [topic], hooks: hooks)
        let received = try await drain(consumer, count: 6 + 5 + 4)
        await consumer.close()
        XCTAssertEqual(Set(assigned.value.map(\.partition)), [0, 1, 2])
        for partition in Int32(0)..<3 {
            let offsets = received.filter { $0.partition == partition }.map(\.offset)
            XCTAssertEqual(offsets, Array(Int64(4 + partition)..<10), "partition \(partition)")
        }
    }

    func testReaderOfAllPartitionsReadsEveryRecordInOffsetOrder() async throws {
        let topic = try freshTopic(partitions: 5)
        let producer = try KafkaProducer(configuration: configuration)
        // More records than one poll chunk (1024), so a poll spans several consume_batch calls.
        let keys = (0..<3000).map { "k-\($0)" }
        let results = try await producer.send(keys.map {
            OutgoingMessage(topic: topic, key: Array($0.utf8), value: Array($0.utf8), headers: [KafkaHeader(key: "h", text: $0)])
        })
        await producer.close()
        let sent = try results.map { try $0.get() }

        let consumer = try await KafkaConsumer(configuration: configuration, topics: [topic], startingAt: KafkaConsumer.beginning)
        XCTAssertEqual(Set(consumer.assignment.map(\.partition)), [0, 1, 2, 3, 4])
        var received: [ConsumedMessage] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while received.count < keys.count && ContinuousClock.now < deadline {
            received += try await consumer.poll(maxMessages: 2500, timeout: .milliseconds(200))
        }
        await consumer.close()
        XCTAssertEqual(received.count, keys.count)
        for partition in Int32(0)..<5 {
            let offsets = received.filter { $0.partition == partition }.map(\.offset)
            XCTAssertEqual(offsets, Array(0..<Int64(offsets.count)), "partition \(partition) in offset order, from the beginning")
            XCTAssertEqual(offsets.count, sent.filter { $0.partition == partition }.count, "partition \(partition)")
        }
        for message in received {
            let key = String(decoding: message.key ?? [], as: UTF8.self)
            XCTAssertEqual(message.topic, topic)
            XCTAssertEqual(message.value, message.key)
            XCTAssertEqual(message.headers, [KafkaHeader(key: "h", text: key)])
        }
    }

    func testPausedBrokerDelaysButLosesNothing() async throws {
        try await assertNothingLost(during: { try self.cluster.pause(broker: 1) },
                                    recover: { try self.cluster.resume(broker: 1) })
    }

    func testBrokerDownAndUpDelaysButLosesNothing() async throws {
        try await assertNothingLost(during: { try self.cluster.down(broker: 1) },
                                    recover: { try self.cluster.up(broker: 1) })
    }

    /// Sends while a fault is active on broker 1 (which leads a third of the partitions), lifts
    /// it after a while, then checks every record was acknowledged and is in the log.
    private func assertNothingLost(during fault: @escaping () throws -> Void,
                                   recover: @escaping () throws -> Void) async throws {
        let topic = try freshTopic(partitions: 6)
        let producer = try KafkaProducer(configuration: configuration.merging(["message.timeout.ms": "60000"]))
        _ = try await producer.send(OutgoingMessage(topic: topic, key: Array("warm-up".utf8), value: [0]))
        try fault()
        let keys = (0..<600).map { "k-\($0)" }
        let finished = Protected(false)
        let sending = Task {
            defer { finished.update { $0 = true } }
            return try await producer.send(keys.map { OutgoingMessage(topic: topic, key: Array($0.utf8), value: Array($0.utf8)) })
        }
        try await Task.sleep(for: .seconds(2))
        XCTAssertFalse(finished.value, "the fault must hold back the records led by broker 1")
        try recover()
        let results = try await sending.value
        await producer.close()
        let failures = results.compactMap { result -> KafkaError? in
            if case .failure(let error) = result { return error } else { return nil }
        }
        XCTAssertEqual(failures, [], "every record is acknowledged once the broker is back")

        let consumer = try KafkaConsumer(configuration: configuration, groupID: "verify-\(topic)", topics: [topic])
        // The mock does not de-duplicate idempotent retries, so the log may hold a key twice.
        var seen = Set<String>()
        let deadline = ContinuousClock.now + .seconds(30)
        while seen.count < keys.count + 1 && ContinuousClock.now < deadline {
            for message in try await consumer.poll(timeout: .milliseconds(200)) {
                seen.insert(String(decoding: message.key ?? [], as: UTF8.self))
            }
        }
        await consumer.close()
        XCTAssertEqual(seen.subtracting(["warm-up"]), Set(keys))
    }

    func testMalformedEventGivesTypedErrorNotCrash() async throws {
        let topic = TopicCatalog.orders.name
        let producer = try KafkaProducer(configuration: configuration)
        _ = try await producer.send([
            OutgoingMessage(topic: topic, key: Array("o-1".utf8), value: [0xFF, 0x00, 0x13], headers: []),
            OutgoingMessage(topic: topic, key: Array("o-2".utf8), value: Array("garbage".utf8),
                            headers: [KafkaHeader(key: "event-id", text: "not-a-uuid"), KafkaHeader(key: "event-type", text: "OrderPlaced")]),
        ])
        await producer.close()
        let consumer = try KafkaConsumer(configuration: configuration, groupID: "malformed", topics: [topic])
        let messages = try await drain(consumer, count: 2)
        await consumer.close()
        XCTAssertEqual(messages.count, 2)
        for message in messages {
            let headers = message.headers.map { (name: $0.key, value: $0.value) }
            XCTAssertThrowsError(try DecodedEvent(headers: headers, payload: message.value, topic: message.topic)) { error in
                XCTAssert(error is EventDecodingError, "got \(type(of: error)): \(error)")
            }
        }
    }

    func testMetadataListsBrokersAndCatalogTopics() async throws {
        let admin = try KafkaAdmin(configuration: configuration)
        let metadata = try await admin.metadata()
        await admin.close()
        XCTAssertEqual(metadata.brokers.count, 3)
        for topic in TopicCatalog.all {
            XCTAssertEqual(metadata.topics[topic.name]?.partitions.count, TopicCatalog.defaultPartitions, topic.name)
        }
    }

    func testProducerQueueFullAppliesBackPressureInsteadOfFailing() async throws {
        let topic = try freshTopic(partitions: 3)
        // A tiny local queue: most of the batch must wait for room, none may be dropped.
        let producer = try KafkaProducer(configuration: configuration.merging(["queue.buffering.max.messages": "50"]))
        let results = try await producer.send((0..<2000).map { OutgoingMessage(topic: topic, key: Array("k\($0)".utf8), value: [1]) })
        await producer.close()
        XCTAssertEqual(results.filter { (try? $0.get()) == nil }.count, 0)
    }
}
