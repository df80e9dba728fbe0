import AsyncHTTPClient
import Credentials
import DeadLetterQueue
@testable import DevClusterTesting
import EventSchema
import Foundation
import Hummingbird
import HummingbirdTesting
import Kafka
import Logging
import NIOHTTP1
import SagaTimeline
import ServiceKit
import XCTest
@testable import Console

/// The console against the embedded dev cluster: its follower indexes a real dead letter (signed
/// by a service) and the order's real event, the order page reads the event back from Kafka, and
/// a replay from the console goes through `DeadLetterReplayer` (the code `kafka-tool deadletters
/// replay` runs): the record lands on its origin partition with `replay-of` and an operator's
/// signature that the consumers' authenticator accepts.
final class ConsoleClusterTests: XCTestCase {
    func testADeadLetterIsIndexedShownAndReplayedSignedByTheOperator() async throws {
        let cluster = try DevClusterHarness()
        defer { cluster.stop() }
        let kafka = KafkaConfiguration(bootstrapServers: cluster.bootstrap).merging(KafkaConfiguration.devClusterTuning)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("console-cluster-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = directory.appendingPathComponent("keys")
        let tokens = try KeyMaterial.create(in: keys, issuer: "order-saga", audience: "order-saga").issuer
        func key(_ owner: String) throws -> EventSigner {
            try EventSigner(file: keys.appendingPathComponent(KeyMaterial.eventKeyFile(owner: owner)).path)
        }
        let authenticator = try EventAuthenticator(keyringFile: keys.appendingPathComponent(KeyMaterial.keyringFile).path)
        let logger = Logger(label: "console-cluster-test")
        let orderId = "order-dlq-\(UUID().uuidString.prefix(8))"

        // The original event, as Payment writes it, and the dead letter Order made of it.
        var charged = Saga_V1_PaymentCharged()
        charged.orderID = orderId
        charged.customerID = "C-00007"
        let event = SagaEvent.paymentCharged(charged)
        let envelope = EventEnvelope(eventType: event.eventType, orderId: orderId, sequence: 1, correlationId: UUID())
        let payload = event.encodePayload()
        let topic = TopicCatalog.payments.name
        let signature = try key("payment").signatureHeader(topic: topic, key: Array(orderId.utf8), payload: payload, envelope: envelope)
        let originalHeaders = envelope.headers() + [signature]
        let producer = try KafkaProducer(configuration: kafka, logger: logger)
        let original = try await producer.send(OutgoingMessage(topic: topic, key: Array(orderId.utf8), value: payload,
                                                               headers: originalHeaders.map { KafkaHeader(key: $0.name, value: $0.value) }))
        let letter = Saga_V1_DeadLetter(
            originTopic: topic, originPartition: original.partition, originOffset: original.offset, key: Array(orderId.utf8),
            headers: originalHeaders.map { (name: $0.name, value: Optional($0.value)) }, payload: payload,
            error: "order is CANCELLED; a charge now is refunded", errorKind: .rejected, consumerGroup: "order")
        let letterEnvelope = EventEnvelope(eventType: .deadLetter, orderId: orderId, sequence: 1, correlationId: envelope.correlationId)
        let letterPayload = SagaEvent.deadLetter(letter).encodePayload()
        let letterSignature = try key("order").signatureHeader(topic: TopicCatalog.deadLetters.name, key: Array(orderId.utf8),
                                                               payload: letterPayload, envelope: letterEnvelope)
        _ = try await producer.send(OutgoingMessage(topic: TopicCatalog.deadLetters.name, key: Array(orderId.utf8), value: letterPayload,
                                                    headers: (letterEnvelope.headers() + [letterSignature]).map { KafkaHeader(key: $0.name, value: $0.value) }))
        await producer.close()

        // The console's follower indexes both.
        let index = SagaIndex()
        let follower = Task { try await TopicFollower(kafka: kafka, authenticator: authenticator, index: index, logger: logger).run() }
        defer { follower.cancel() }
        let deadline = ContinuousClock.now + .seconds(60)
        while index.deadLetter(letterEnvelope.eventId) == nil || index.order(orderId) == nil {
            guard ContinuousClock.now < deadline else { return XCTFail("the follower did not index the dead letter and the event: \(index.progress)") }
            try await Task.sleep(for: .milliseconds(200))
        }

        let verifier = TokenVerifier(keys: try await JWKSSource.open(keys.appendingPathComponent(KeyMaterial.jwksFile).path),
                                     configuration: .init(issuer: "order-saga", audience: "order-saga"))
        let dependencies = ConsoleDependencies(
            index: index, sessions: SessionStore(secureCookies: false), verifier: verifier,
            directory: try ServiceDirectory(["order=http://127.0.0.1:1", "inventory=http://127.0.0.1:1",
                                             "payment=http://127.0.0.1:1", "notification=http://127.0.0.1:1"]),
            client: ServiceClient(http: HTTPClient.shared, timeout: .seconds(2)),
            records: OrderRecordReader(kafka: kafka, authenticator: authenticator, timeout: .seconds(30), logger: logger),
            replayer: try DeadLetterReplayer(configuration: kafka, operatorKey: try key("operator"), logger: logger),
            alertmanagerURL: nil, jaegerURL: nil, actions: ActionLog(logger: logger), logger: logger)
        let (router, _) = ConsoleApp.buildRouter(dependencies)
        let operatorToken = try await tokens.token(subject: "ops-carol", roles: [.operator])
        let id = letterEnvelope.eventId.uuidString.lowercased()
        let replayedAt: DeliveryReportText = try await Application(router: router).test(.router) { client in
            let page = try await call(client, .get, "/orders/\(orderId)", token: operatorToken)
            XCTAssertEqual(page.status, .ok, page.text)
            XCTAssertTrue(page.text.contains("PaymentCharged"), "the event, read back from Kafka")
            XCTAssertTrue(page.text.contains("<td class=\"mono\">payments.v1</td><td class=\"num\">\(original.partition)</td><td class=\"num\">\(original.offset)</td>"))
            XCTAssertTrue(page.text.contains(id), "the dead letter it caused")

            let shown = try await call(client, .get, "/deadletters/\(id)", token: operatorToken)
            XCTAssertTrue(shown.text.contains("Decoded as <strong>PaymentCharged</strong>"), shown.text)

            let done = try await call(client, .post, "/deadletters/replay/confirm", token: operatorToken, form: "id=\(id)&confirm=yes")
            XCTAssertEqual(done.status, .ok, done.text)
            let text = done.text
            let marker = "replayed to \(topic)[\(original.partition)]@"
            let range = try XCTUnwrap(text.range(of: marker), text)
            return DeliveryReportText(partition: original.partition, offset: Int64(text[range.upperBound...].prefix { $0.isNumber }) ?? -1)
        }
        XCTAssertEqual(dependencies.actions.recent.first?.subject, "ops-carol")

        // The replayed record: the original bytes, replay-of, and an operator's signature the consumers accept.
        let consumer = try KafkaConsumer(configuration: kafka, partitions: [TopicPartition(topic: topic, partition: replayedAt.partition): replayedAt.offset],
                                         logger: logger)
        var found: ConsumedMessage?
        let readDeadline = ContinuousClock.now + .seconds(30)
        while found == nil, ContinuousClock.now < readDeadline {
            found = try await consumer.poll(maxMessages: 10, timeout: .milliseconds(200)).first { $0.offset == replayedAt.offset }
        }
        await consumer.close()
        let replayed = try XCTUnwrap(found, "the replay is on \(topic)[\(replayedAt.partition)]@\(replayedAt.offset)")
        XCTAssertEqual(replayed.value, payload)
        let headers = replayed.headers.map { (name: $0.key, value: $0.value) }
        XCTAssertEqual(headers.first { $0.name == ReplayMarker.header }?.value.map { String(decoding: $0, as: UTF8.self) }, id)
        let verdict = authenticator.check(topic: topic, key: replayed.key, payload: replayed.value,
                                          envelope: try EventEnvelope(headers: headers), headers: headers)
        guard case .authentic(_, let replayOf) = verdict else { return XCTFail("the replay is not authentic: \(verdict)") }
        XCTAssertEqual(replayOf, letterEnvelope.eventId)
    }
}

struct DeliveryReportText: Sendable {
    var partition: Int32
    var offset: Int64
}
