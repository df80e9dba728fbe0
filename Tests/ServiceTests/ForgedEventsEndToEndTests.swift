import Credentials
import EventSchema
import Foundation
import Kafka
import SagaAPI
import ServiceKit
import XCTest
@testable import DevClusterTesting

/// A client of the brokers that is not the topic's writer, against the four real executables on
/// SQLite and on PostgreSQL: a forged PaymentCharged confirms nothing, a forged StockReserved
/// charges nobody, a forged OrderCancelled refunds nothing, a record signed with another
/// service's key is refused, and a real record re-sent with a made-up `replay-of` is dropped.
/// Each forgery ends as an `unauthenticated` dead letter, counted; the audit passes after all.
final class ForgedEventsEndToEndTests: XCTestCase {
    static let seed = SeedCatalog(
        currency: "EUR",
        skus: [.init(sku: "SKU-F", unitPrice: 1_000, stock: 1_000)],
        customers: [.init(customerId: "C-OK", balance: 1_000_000), .init(customerId: "C-BLOCKED", balance: 1_000_000, blocked: true),
                    .init(customerId: "C-VICTIM", balance: 1_000_000)])

    func testForgedEventsChangeNothingOnSQLite() throws {
        try runForgeries(try SagaStack(seed: Self.seed, sagaTimeoutMs: 120_000), backend: "sqlite")
    }

    func testForgedEventsChangeNothingOnPostgres() throws {
        let schemas = try PostgresSchemas(prefix: "forged")
        defer { schemas.drop() }
        let databases = Dictionary(uniqueKeysWithValues: try ServiceName.allCases.map { ($0, try schemas.url(for: $0.rawValue)) })
        try runForgeries(try SagaStack(seed: Self.seed, sagaTimeoutMs: 120_000, databases: databases), backend: "postgres")
    }

    private func runForgeries(_ stack: SagaStack, backend: String) throws {
        defer { stack.stop() }
        let client = SagaClient(stack: stack)
        let forger = Forger(stack: stack)
        let inventoryKey = try EventSigner(file: stack.keys.appendingPathComponent(KeyMaterial.eventKeyFile(owner: "inventory")).path)

        // 1. Payment is down; the blocked customer's order waits, reserved. A PaymentCharged for it,
        //    unsigned and signed with Inventory's own key, must not confirm it.
        stack.kill(.payment)
        let blocked = try client.place(customer: "C-BLOCKED", [.init(sku: "SKU-F", quantity: 1)])
        _ = try client.poll("the stock reserved for \(blocked)", timeout: 60) { () -> Bool? in
            try client.reservation(blocked).json()["state"] as? String == "RESERVED" ? true : nil
        }
        let charge = SagaEvent.paymentCharged(.with {
            $0.orderID = blocked
            $0.customerID = "C-BLOCKED"
            $0.amount = .with { $0.minorUnits = 1_000; $0.currency = "EUR" }
            $0.paymentID = "forged-payment"
        })
        try forger.send(charge, signer: nil)
        try forger.send(charge, signer: inventoryKey)
        try waitForUnauthenticated(client, .order, atLeast: 2, backend)
        XCTAssertEqual(try client.order(blocked)["status"] as? String, "PENDING", "[\(backend)] a forged charge confirmed nothing")
        try stack.start(.payment)
        try stack.waitUntilReady(.payment)
        let ended = try client.waitForEnd(blocked, timeout: 90)
        XCTAssertEqual(ended["status"] as? String, "CANCELLED", "[\(backend)] \(ended)")
        XCTAssertEqual(ended["cancelReason"] as? String, "payment_failed")
        XCTAssertEqual(try client.balance("C-BLOCKED"), 1_000_000, "[\(backend)] the blocked customer was never charged")

        // 2. A StockReserved nobody reserved: Payment charges nobody.
        let phantom = "phantom-\(UUID().uuidString.prefix(8))"
        try forger.send(.stockReserved(.with {
            $0.orderID = phantom
            $0.customerID = "C-VICTIM"
            $0.amount = .with { $0.minorUnits = 50_000; $0.currency = "EUR" }
            $0.deadlineUnixMs = EventEnvelope.nowUnixMs() + 600_000
            $0.lines = [.with { $0.sku = "SKU-F"; $0.quantity = 50; $0.unitPrice = .with { $0.minorUnits = 1_000; $0.currency = "EUR" } }]
        }), signer: nil)
        try waitForUnauthenticated(client, .payment, atLeast: 1, backend)
        XCTAssertEqual(try client.balance("C-VICTIM"), 1_000_000, "[\(backend)] a forged StockReserved charged nobody")
        XCTAssertEqual(try client.payment(phantom).status, 404)

        // 3. A confirmed order, then a forged OrderCancelled for it: nothing is refunded or released.
        let confirmed = try client.place(customer: "C-OK", [.init(sku: "SKU-F", quantity: 2)])
        XCTAssertEqual(try client.waitForEnd(confirmed)["status"] as? String, "CONFIRMED")
        _ = try client.waitForNotifications(confirmed)
        let stockBefore = try client.stock("SKU-F")
        let paymentUnauthenticated = try unauthenticated(client, .payment)
        try forger.send(.orderCancelled(.with {
            $0.orderID = confirmed
            $0.customerID = "C-OK"
            $0.reason = .timeout
        }), signer: nil)
        try waitForUnauthenticated(client, .payment, atLeast: paymentUnauthenticated + 1, backend)
        try waitForUnauthenticated(client, .inventory, atLeast: 1, backend)
        try waitForUnauthenticated(client, .notification, atLeast: 1, backend)
        XCTAssertEqual(try client.balance("C-OK"), 1_000_000 - 2_000, "[\(backend)] charged once, refunded nothing")
        XCTAssertEqual(try client.payment(confirmed).json()["state"] as? String, "CHARGED")
        XCTAssertEqual(try client.stock("SKU-F"), stockBefore, "[\(backend)] nothing released")
        XCTAssertEqual(try client.waitForNotifications(confirmed).count, 1, "[\(backend)] no cancellation notice")

        // 4. The real PaymentCharged of that order, re-sent with a made-up replay-of: dropped.
        let orderUnauthenticated = try unauthenticated(client, .order)
        let original = try XCTUnwrap(try forger.record(of: confirmed, type: .paymentCharged), "[\(backend)] the real PaymentCharged")
        try forger.resend(original, extraHeaders: [KafkaHeader(key: ReplayMarker.header, text: UUID().uuidString.lowercased())])
        try waitForUnauthenticated(client, .order, atLeast: orderUnauthenticated + 1, backend)

        // Every forgery is a dead letter of kind unauthenticated, counted by the groups that read it.
        let metric = try ServiceName.allCases.reduce(0.0) {
            $0 + (try client.metric($1, "messaging_dead_lettered_total", ["kind": "unauthenticated"]))
        }
        // order: 2 charges + the replay + the phantom StockReserved (it reads inventory.v1 too);
        // payment: the phantom and the cancellation; inventory and notification: the cancellation.
        XCTAssertEqual(metric, 8, "[\(backend)] unauthenticated dead letters by all groups")
        for service in ServiceName.allCases {
            XCTAssertEqual(try HTTP.get(stack.url(service, "/readyz")).status, 200, "[\(backend)] \(service) ready after the forgeries")
        }

        // The audit over everything, forgeries included.
        XCTAssertEqual(try stack.audit().status, 0, "[\(backend)] the audit failed")
    }

    /// Records this instance dead-lettered as unauthenticated (GET /consumer).
    private func unauthenticated(_ client: SagaClient, _ service: ServiceName) throws -> Int {
        (try HTTP.get(client.stack.url(service, "/consumer"), token: client.stack.operatorToken).json()["unauthenticated"] as? NSNumber)?.intValue ?? -1
    }

    private func waitForUnauthenticated(_ client: SagaClient, _ service: ServiceName, atLeast count: Int, _ backend: String) throws {
        _ = try client.poll("[\(backend)] \(service) to dead-letter \(count) unauthenticated record(s)", timeout: 60) { () -> Bool? in
            try unauthenticated(client, service) >= count ? true : nil
        }
    }
}

/// Writes records to the stack's topics as a client that is not their writer.
struct Forger {
    let stack: SagaStack

    /// `event` with a well-formed envelope, keyed by its order, signed by `signer` (nil: unsigned).
    func send(_ event: SagaEvent, signer: EventSigner?) throws {
        let envelope = EventEnvelope(for: event, sequence: 9)
        var headers = envelope.headers().map { KafkaHeader(key: $0.name, value: $0.value) }
        if let signer {
            let header = try signer.signatureHeader(topic: event.topic.name, key: envelope.key, payload: event.encodePayload(), envelope: envelope)
            headers.append(KafkaHeader(key: header.name, value: header.value))
        }
        try produce(OutgoingMessage(topic: event.topic.name, key: envelope.key, value: event.encodePayload(), headers: headers))
    }

    func resend(_ message: ConsumedMessage, extraHeaders: [KafkaHeader]) throws {
        try produce(OutgoingMessage(topic: message.topic, key: message.key, value: message.value,
                                    headers: message.headers + extraHeaders, partition: message.partition))
    }

    /// The first record of `type` for `orderId` on its topic.
    func record(of orderId: String, type: EventType) throws -> ConsumedMessage? {
        let kafka = stack.kafka
        return try runAsync {
            let topic = type.topic.name
            let reader = try KafkaWatermarkReader(configuration: kafka)
            let marks = try await reader.watermarks(topics: [topic])
            await reader.close()
            let partition = Murmur2Partitioner.partition(forKey: orderId, partitionCount: Int32(marks.count))
            let key = TopicPartition(topic: topic, partition: partition)
            guard let mark = marks[key], mark.high > mark.low else { return nil }
            let consumer = try KafkaConsumer(configuration: kafka, partitions: [key: mark.low])
            defer { Task { await consumer.close() } }
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                for message in try await consumer.poll(maxMessages: 500, timeout: .milliseconds(200)) {
                    if message.header(EventEnvelope.Header.orderId) == Array(orderId.utf8),
                       message.header(EventEnvelope.Header.eventType) == Array(type.rawValue.utf8) {
                        return message
                    }
                    if message.offset + 1 >= mark.high { return nil }
                }
            }
            return nil
        }
    }

    private func produce(_ message: OutgoingMessage) throws {
        let kafka = stack.kafka
        let results = try runAsync {
            let producer = try KafkaProducer(configuration: kafka)
            let results = try await producer.send([message])
            await producer.close()
            return results
        }
        if case .failure(let error) = results.first { throw error }
    }
}
