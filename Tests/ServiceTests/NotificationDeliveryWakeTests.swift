import Credentials
import EventSchema
import Foundation
import Kafka
import Logging
import Messaging
import Persistence
import Prometheus
import ServiceKit
import XCTest
@testable import DevClusterTesting
@testable import NotificationService

/// A notification goes out on the commit that recorded it, not on the delivery worker's next
/// polling round: the worker's fallback interval here is an hour, so only the consumer's
/// wake-up can deliver it within the test's bound.
final class NotificationDeliveryWakeTests: XCTestCase {
    func testTheConsumersCommitWakesTheDeliveryWorker() async throws {
        let cluster = try DevClusterHarness()
        defer { cluster.stop() }
        let fixture = try EdgeFixture()
        var settings = fixture.settings(.notification)
        settings.kafka = KafkaConfiguration(bootstrapServers: cluster.bootstrap).merging(KafkaConfiguration.devClusterTuning)
        let built = try await ServiceRunner.build(NotificationService.self, settings: settings, registry: PrometheusCollectorRegistry(),
                                                  logger: EdgeFixture.logger) { context in
            try NotificationService(context: context, channel: .log, deliveryInterval: .seconds(3600))
        }
        let database = built.database, runtime = built.runtime
        defer { Task { await database.close() } }
        // The delivery worker's first round runs at start, finds nothing, and then waits.
        let worker = try XCTUnwrap(built.service.backgroundServices().first)
        let running = [Task { try await runtime.run() }, Task { try await worker.run() }]
        defer { runtime.stop(); running.forEach { $0.cancel() } }

        let orderId = "wake-\(UUID().uuidString.prefix(8))"
        var confirmed = Saga_V1_OrderConfirmed()
        confirmed.orderID = orderId
        confirmed.customerID = "C-A"
        confirmed.total = Saga_V1_Money(minorUnits: 1_000, currency: "EUR")
        confirmed.paymentID = "\(orderId)/charge"
        confirmed.confirmedAtUnixMs = EventEnvelope.nowUnixMs()
        let event = SagaEvent.orderConfirmed(confirmed)
        let envelope = EventEnvelope(eventType: event.eventType, orderId: orderId, sequence: 1, correlationId: UUID())
        let payload = event.encodePayload()
        let signer = try EventSigner(file: fixture.keys.appendingPathComponent(KeyMaterial.eventKeyFile(owner: "order")).path)
        let signature = try signer.signatureHeader(topic: TopicCatalog.orders.name, key: Array(orderId.utf8), payload: payload,
                                                   envelope: envelope)
        let producer = try KafkaProducer(configuration: settings.kafka, logger: Logger(label: "wake-test"))
        _ = try await producer.send(OutgoingMessage(topic: TopicCatalog.orders.name, key: Array(orderId.utf8), value: payload,
                                                    headers: (envelope.headers() + [signature]).map { KafkaHeader(key: $0.name, value: $0.value) }))
        await producer.close()

        let deadline = ContinuousClock.now + .seconds(60)
        var states: [String] = []
        while ContinuousClock.now < deadline {
            states = try await database.read { connection in
                try NotificationStore.forOrder(orderId, on: connection).map { "\($0.state)" }
            }
            if states == ["sent"] { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTAssertEqual(states, ["sent"], "recorded by the consumer and delivered without waiting for the hourly round")
        XCTAssertEqual(runtime.statistics.handled, 1, "the OrderConfirmed was applied, not dead-lettered")
    }
}
