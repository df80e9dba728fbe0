import EventSchema
import Foundation
import HostileInput
import Kafka
import Logging
import Persistence
import PropertyBased
import SagaAPI
import ServiceKit
import StoreFixtures
import XCTest
@testable import DevClusterTesting

/// The four real executables against generated hostile records (see `HostileRecord`) on every
/// service's input topics, then ordinary orders on every partition, on SQLite and on
/// PostgreSQL: every hostile record is dead-lettered or skipped with a counter by every group
/// that reads it, readiness stays green, every order ends as expected, and the audit passes.
final class HostileInputEndToEndTests: XCTestCase {
    static let seed = SeedCatalog(
        currency: "EUR",
        skus: (1...20).map { .init(sku: String(format: "SKU-%04d", $0), unitPrice: 1_000, stock: 1_000_000) },
        customers: (1...20).map { .init(customerId: String(format: "C-%05d", $0), balance: 1_000_000_000) })
    /// Which groups read each saga topic.
    static let readers: [String: [ServiceName]] = [
        TopicCatalog.orders.name: [.inventory, .payment, .notification],
        TopicCatalog.inventory.name: [.order, .payment],
        TopicCatalog.payments.name: [.order, .inventory],
    ]

    func testHostileRecordsOnEveryInputTopicOnSQLite() throws {
        try runHostileRun(stack: try SagaStack(seed: Self.seed, sagaTimeoutMs: 60_000), backend: "sqlite")
    }

    func testHostileRecordsOnEveryInputTopicOnPostgres() throws {
        let schemas = try PostgresSchemas(prefix: "hostile")
        defer { schemas.drop() }
        let databases = Dictionary(uniqueKeysWithValues: try ServiceName.allCases.map { ($0, try schemas.url(for: $0.rawValue)) })
        try runHostileRun(stack: try SagaStack(seed: Self.seed, sagaTimeoutMs: 60_000, databases: databases), backend: "postgres")
    }

    private func runHostileRun(stack: SagaStack, backend: String) throws {
        defer { stack.stop() }
        let client = SagaClient(stack: stack)
        let seed = ProcessInfo.processInfo.environment["HOSTILE_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 0 ... .max)
        print("[\(backend)] hostile records from seed \(seed) (HOSTILE_SEED=\(seed) replays this run)")
        var rng = Xoshiro(seed: (seed, 7, 11, 13))
        var records: [HostileRecord] = []
        for topic in Self.readers.keys.sorted() {
            records += (0..<600).map { _ in HostileRecord.generator(topic: topic, maxRecordBytes: 40_000).run(using: &rng) }
            // A few near Kafka's maximum size: their dead letters must be cut to fit, and published.
            records += (0..<2).map { _ in
                var record = HostileRecord.generator(topic: topic, maxRecordBytes: 20_000).run(using: &rng)
                record.payload = Array(repeating: 0x5A, count: 997_000 - record.size + (record.payload?.count ?? 0))
                record.mutations.append("payload padded to \(record.size) bytes")
                return record
            }
        }
        let before = try countersByService(client)

        // 1. Every hostile record into its topic and partition.
        let outgoing = records.map(\.outgoing)
        let results = try runAsync {
            let producer = try KafkaProducer(configuration: stack.kafka.merging(["message.max.bytes": "1000000"]))
            let results = try await producer.send(outgoing)
            await producer.close()
            return results
        }
        for (record, result) in zip(records, results) {
            if case .failure(let error) = result { XCTFail("producing \(record) failed: \(error)") }
        }
        let ends = try runAsync { try await Self.logEnds(stack.kafka) }

        // 2. Every group works through them; none retries one forever, none goes unready.
        for (topic, services) in Self.readers {
            let topicEnds = ends.filter { $0.key.topic == topic }
            for service in services {
                _ = try client.poll("\(service) past every hostile record on \(topic)", timeout: 180) { () -> Bool? in
                    let processed = try Self.processed(stack, service, topic: topic)
                    let done = topicEnds.allSatisfy { partition, end in end == 0 || (processed[partition.partition] ?? -1) >= end - 1 }
                    return done ? true : nil
                }
            }
        }
        for service in ServiceName.allCases {
            let ready = try HTTP.get(stack.url(service, "/readyz"))
            XCTAssertEqual(ready.status, 200, "[\(backend)] \(service) after the hostile records: \(ready.text)")
        }

        // Per group: dead letters + skips counted = the hostile records it read. /metrics is
        // computed at most once a second, so a scrape may predate the last batch: wait until
        // every group's count reaches what it read (a count that passes it fails below).
        let expected = Dictionary(uniqueKeysWithValues: ServiceName.allCases.map { service in
            (service, Double(records.filter { Self.readers[$0.topic]!.contains(service) }.count))
        })
        let after = try (try? client.poll("every group's dead letters and skips counted", timeout: 30) { () -> [ServiceName: Double]? in
            let counters = try countersByService(client)
            return ServiceName.allCases.allSatisfy { counters[$0]! - before[$0]! >= expected[$0]! } ? counters : nil
        }) ?? countersByService(client)
        for service in ServiceName.allCases {
            let read = expected[service]!
            let accounted = after[service]! - before[service]!
            XCTAssertEqual(accounted, read, "[\(backend)] \(service): dead-lettered + skipped (unknown or not handled) vs hostile records read")
        }

        // The dead letters are on deadletter.v1, the big ones cut to fit. The dev cluster keeps
        // a few MB per partition, so near-maximum letters push the oldest ones out: count what
        // was appended by the log ends, and decode what is still there.
        let dead = ServiceName.allCases.reduce(0.0) { $0 + ((try? client.metric($1, "messaging_dead_lettered_total")) ?? 0) }
        let published = try client.poll("every dead letter published", timeout: 120) { () -> DeadLetterLog? in
            let log = try runAsync { try await Self.deadLetters(stack.kafka) }
            return log.appended >= Int(dead) ? log : nil
        }
        XCTAssertEqual(published.appended, Int(dead), "[\(backend)] one dead letter per dead-lettering")
        XCTAssertEqual(published.letters.count, published.retained, "[\(backend)] every dead letter still in the log decodes as one")
        let letters = published.letters
        XCTAssertGreaterThan(letters.filter(\.truncated).count, 0, "[\(backend)] the near-maximum records' dead letters were cut and published")

        // 3. Ordinary orders on every partition end as they should.
        var orders: [String] = []
        var partitions = Set<Int32>()
        while partitions.count < 12 || orders.count < 36 {
            let id = try client.place(customer: String(format: "C-%05d", orders.count % 20 + 1),
                                      [.init(sku: String(format: "SKU-%04d", orders.count % 20 + 1), quantity: 1)])
            orders.append(id)
            partitions.insert(Murmur2Partitioner.partition(forKey: id, partitionCount: 12))
        }
        for id in orders {
            let order = try client.waitForEnd(id, timeout: 90)
            XCTAssertEqual(order["status"] as? String, "CONFIRMED", "[\(backend)] \(id): \(order)")
        }
        for service in ServiceName.allCases {
            XCTAssertEqual(try HTTP.get(stack.url(service, "/readyz")).status, 200, "[\(backend)] \(service) after the orders")
        }

        // 4. The audit over everything, hostile records included.
        XCTAssertEqual(try stack.audit().status, 0, "[\(backend)] the audit failed")
    }

    /// Last processed offset per partition of `topic`, as the service's GET /consumer says.
    static func processed(_ stack: SagaStack, _ service: ServiceName, topic: String) throws -> [Int32: Int64] {
        let rows = try HTTP.get(stack.url(service, "/consumer"), token: stack.operatorToken).json()["partitions"] as? [[String: Any]] ?? []
        var result: [Int32: Int64] = [:]
        for row in rows where row["topic"] as? String == topic {
            guard let partition = (row["partition"] as? NSNumber)?.int32Value,
                  let offset = (row["lastProcessedOffset"] as? NSNumber)?.int64Value else { continue }
            result[partition] = offset
        }
        return result
    }

    /// dead letters + skipped as unknown or not handled, per service.
    private func countersByService(_ client: SagaClient) throws -> [ServiceName: Double] {
        var counters: [ServiceName: Double] = [:]
        for service in ServiceName.allCases {
            counters[service] = try client.metric(service, "messaging_dead_lettered_total")
                + client.metric(service, "messaging_skipped_total", ["reason": "unknown_type"])
                + client.metric(service, "messaging_skipped_total", ["reason": "not_handled"])
        }
        return counters
    }

    static func logEnds(_ kafka: KafkaConfiguration) async throws -> [TopicPartition: Int64] {
        let reader = try KafkaWatermarkReader(configuration: kafka)
        let marks = try await reader.watermarks(topics: Array(readers.keys))
        await reader.close()
        return marks.mapValues { (marks: Watermarks) in marks.high }
    }

    struct DeadLetterLog: Sendable {
        /// Records ever appended to deadletter.v1 (the sum of its log ends), and those retained.
        var appended = 0, retained = 0
        var letters: [Saga_V1_DeadLetter] = []
    }

    static func deadLetters(_ kafka: KafkaConfiguration) async throws -> DeadLetterLog {
        let reader = try KafkaWatermarkReader(configuration: kafka)
        let allMarks = try await reader.watermarks(topics: [TopicCatalog.deadLetters.name])
        await reader.close()
        var log = DeadLetterLog(appended: Int(allMarks.values.reduce(0) { $0 + $1.high }),
                                retained: Int(allMarks.values.reduce(0) { $0 + $1.high - $1.low }))
        let marks = allMarks.filter { $0.value.high > $0.value.low }
        guard !marks.isEmpty else { return log }
        let consumer = try KafkaConsumer(configuration: kafka, partitions: marks.mapValues(\.low))
        var remaining = marks
        let deadline = ContinuousClock.now + .seconds(60)
        while !remaining.isEmpty, ContinuousClock.now < deadline {
            for message in try await consumer.poll(maxMessages: 500, timeout: .milliseconds(200)) {
                guard let end = remaining[message.topicPartition]?.high, message.offset < end else { continue }
                if message.offset + 1 >= end { remaining[message.topicPartition] = nil }
                let decoded = try DecodedEvent(headers: message.headers.map { (name: $0.key, value: $0.value) }, payload: message.value,
                                               topic: TopicCatalog.deadLetters.name)
                if case .deadLetter(let letter) = decoded.event { log.letters.append(letter) }
            }
        }
        await consumer.close()
        return log
    }
}

/// One PostgreSQL store per service (StoreFixtures' PostgresFixture: a schema of its own in
/// the test server, POSTGRES_URL), for services that run as processes; dropped afterwards.
final class PostgresSchemas: @unchecked Sendable {
    let prefix: String
    private var stores: [TestStore] = []

    init(prefix: String) throws {
        self.prefix = prefix
    }

    /// The URL a service process opens its store with (`search_path` is the schema).
    func url(for name: String) throws -> String {
        let store = try runAsync { [prefix] in try await PostgresFixture.makeStore(schemaPrefix: "\(prefix)_\(name)") }
        stores.append(store)
        return store.url
    }

    func drop() {
        let stores = self.stores
        _ = try? runAsync { for store in stores { await store.tearDown() } }
    }
}

/// Runs async work from a synchronous XCTest body.
func runAsync<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let done = DispatchSemaphore(value: 0)
    let box = Box<Result<T, any Error>>()
    Task.detached {
        do { box.value = .success(try await body()) } catch { box.value = .failure(error) }
        done.signal()
    }
    done.wait()
    return try box.value!.get()
}

private final class Box<T>: @unchecked Sendable {
    var value: T?
}
