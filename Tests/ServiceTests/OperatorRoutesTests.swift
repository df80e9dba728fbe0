import EventSchema
import Foundation
import Hummingbird
import HummingbirdTesting
import Kafka
import Prometheus
@testable import Messaging
import SagaAPI
import ServiceKit
import XCTest
@testable import InventoryService
@testable import DevClusterTesting

/// `GET /relay` and `POST /consumer/reset`, the operator routes the console calls: who may call
/// them, what a bad request is told, and that a reset moves only a partition this instance holds.
final class OperatorRoutesTests: XCTestCase {
    static let reset = OffsetResetRequest(topic: TopicCatalog.orders.name, partition: 4, next: 0)

    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    func testTheRelayIsForStaffAndAResetIsForOperatorsAndOnlyOfAHeldPartition() async throws {
        let fixture = try EdgeFixture()
        let inventory = try await fixture.inventory()
        let database = inventory.database
        defer { Task { await database.close() } }
        let operatorToken = try await fixture.token([.operator], "ops-1")
        let auditor = try await fixture.token([.auditor], "audit-1")
        let monitor = try await fixture.token([.monitor], "prometheus")
        let customer = try await fixture.token([.customer], "C-A")

        try await inventory.app.test(.router) { client in
            let relay = try await call(client, .get, "/relay", token: operatorToken)
            XCTAssertEqual(relay.status, .ok, relay.text)
            let view = try JSONDecoder().decode(RelayView.self, from: Data(buffer: relay.body))
            XCTAssertEqual(view.instance, "inventory")
            XCTAssertFalse(view.leader, "the relay was never started")
            XCTAssertNil(view.lease, "nobody took the lease yet")
            let body = try Self.json(Self.reset)
            let expected: [(String, String?, String?, HTTPResponse.Status)] = [
                ("GET /relay as auditor", "/relay", auditor, .ok),
                ("GET /relay as monitor", "/relay", monitor, .forbidden),
                ("GET /relay as customer", "/relay", customer, .forbidden),
                ("GET /relay without a token", "/relay", nil, .unauthorized),
                ("reset without a token", nil, nil, .unauthorized),
                ("reset as auditor", nil, auditor, .forbidden),
                ("reset as monitor", nil, monitor, .forbidden),
                ("reset as customer", nil, customer, .forbidden),
            ]
            for (what, relayPath, token, status) in expected {
                let response = if let relayPath {
                    try await call(client, .get, relayPath, token: token)
                } else {
                    try await call(client, .post, "/consumer/reset", token: token, json: body)
                }
                XCTAssertEqual(response.status, status, what)
            }
            let text = try await call(client, .post, "/consumer/reset", token: operatorToken, json: body,
                                      headers: [.contentType: "text/plain"])
            XCTAssertEqual(text.status, .unsupportedMediaType)
            let malformed = try await call(client, .post, "/consumer/reset", token: operatorToken, json: #"{"topic": 4}"#)
            XCTAssertEqual(malformed.status, .badRequest)
            XCTAssertTrue(malformed.text.contains("next"), "the problem says what a reset looks like: \(malformed.text)")
            let negative = try await call(client, .post, "/consumer/reset", token: operatorToken,
                                          json: try Self.json(OffsetResetRequest(topic: Self.reset.topic, partition: 4, next: -5)))
            XCTAssertEqual(negative.status, .badRequest)

            let unassigned = try await call(client, .post, "/consumer/reset", token: operatorToken, json: body)
            XCTAssertEqual(unassigned.status, .conflict, unassigned.text)
            XCTAssertTrue(unassigned.text.contains("not assigned to this instance"), unassigned.text)
        }
        let stored = try await StoredOffsets.load(group: "inventory", from: inventory.database)
        XCTAssertTrue(stored.isEmpty, "a refused reset stores nothing: \(stored)")
    }

    /// The database says offset 500 of orders.v1[4] was processed; the log holds three records.
    /// The consumer holds the partition (never skipping what the log has); a reset of a partition
    /// that flows is refused; the operator's reset of the held one releases it, and the consumer
    /// reads the three records (no envelope, so they are dead-lettered: read, not lost).
    func testAnOperatorsResetReleasesAPartitionHeldForAnOffsetAnomaly() async throws {
        let cluster = try DevClusterHarness()
        defer { cluster.stop() }
        let fixture = try EdgeFixture()
        var settings = fixture.settings(.inventory)
        settings.kafka = KafkaConfiguration(bootstrapServers: cluster.bootstrap).merging(KafkaConfiguration.devClusterTuning)
        let inventory = try await ServiceRunner.build(InventoryService.self, settings: settings, registry: PrometheusCollectorRegistry(),
                                                      logger: EdgeFixture.logger) { try await InventoryService.make(context: $0) }
        let database = inventory.database, runtime = inventory.runtime
        defer { Task { await database.close() } }
        let held = TopicPartition(topic: TopicCatalog.orders.name, partition: 4)
        try await StoredOffsets.reset(group: "inventory", partition: held, lastProcessed: 500, in: inventory.database)
        let produced = try Kcat.produce(cluster.bootstrap, topic: held.topic, partition: 4, lines: ["one", "two", "three"])
        XCTAssertEqual(produced.status, 0, produced.stderr)

        let consumer = Task { try await runtime.run() }
        defer { runtime.stop() }
        try await waitUntil("orders.v1[4] held") {
            inventory.runtime.report().partitions.contains { $0.topic == held.topic && $0.partition == 4 && $0.held != nil }
        }
        let heldRow = runtime.report().partitions.first { $0.topic == held.topic && $0.partition == 4 }
        XCTAssertEqual(heldRow?.logEnd, 3, "a held partition's log end is reported: the next offset a reset usually wants")
        let operatorToken = try await fixture.token([.operator], "ops-1")
        try await inventory.app.test(.router) { client in
            let flowing = try await call(client, .post, "/consumer/reset", token: operatorToken,
                                         json: try Self.json(OffsetResetRequest(topic: held.topic, partition: 5, next: 0)))
            XCTAssertEqual(flowing.status, .conflict, "a partition that flows is not moved under its consumer: \(flowing.text)")
            XCTAssertTrue(flowing.text.contains("not held"), flowing.text)

            let reset = try await call(client, .post, "/consumer/reset", token: operatorToken, json: try Self.json(Self.reset))
            XCTAssertEqual(reset.status, .ok, reset.text)
            let answer = try JSONDecoder().decode(OffsetResetAnswer.self, from: Data(buffer: reset.body))
            XCTAssertEqual(answer.lastProcessedBefore, 500)
            XCTAssertEqual(answer.lastProcessed, -1)
            XCTAssertEqual(answer.resetBy, "ops-1")
        }
        try await waitUntil("the held partition released and its three records read", timeout: .seconds(60)) {
            let row = runtime.report().partitions.first { $0.topic == held.topic && $0.partition == 4 }
            let stored = try await StoredOffsets.load(group: "inventory", from: database)
            return row?.held == nil && stored[held] == 2
        }
        XCTAssertEqual(runtime.statistics.deadLettered, 3, "the three records are dead letters, not lost")
        XCTAssertEqual(runtime.statistics.offsetAnomalies, 1)
        runtime.stop()
        try await consumer.value
    }

    private func waitUntil(_ what: String, timeout: Duration = .seconds(30),
                           _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await !condition() {
            if ContinuousClock.now > deadline { return XCTFail("not within \(timeout): \(what)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
