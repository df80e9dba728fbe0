import Credentials
import EventSchema
import Foundation
import Kafka
import Logging
import Messaging
import NIOCore
import Persistence
import Prometheus
import ServiceKit
import XCTest
@testable import DevClusterTesting
@testable import NotificationService

/// A notification goes out on the commit that recorded it, not on the delivery worker's next
/// polling round: the worker's fallback interval here is an hour. A channel with an outside
/// effect (a webhook) is delivered by the worker, woken by the consumer's commit; the log and
/// file channels are delivered by the consumer itself, in its transaction.
final class NotificationDeliveryWakeTests: XCTestCase {
    /// A Notification service on a dev cluster with its consumer running (and its worker when asked).
    struct Running {
        let cluster: DevClusterHarness
        let fixture: EdgeFixture
        let settings: ServiceSettings
        let built: ServiceRunner.Built<NotificationService>
        let tasks: [Task<Void, any Error>]

        init(channel: ChannelSettings, startWorker: Bool) async throws {
            cluster = try DevClusterHarness()
            fixture = try EdgeFixture()
            var settings = fixture.settings(.notification)
            settings.kafka = KafkaConfiguration(bootstrapServers: cluster.bootstrap).merging(KafkaConfiguration.devClusterTuning)
            self.settings = settings
            built = try await ServiceRunner.build(NotificationService.self, settings: settings, registry: PrometheusCollectorRegistry(),
                                                  logger: EdgeFixture.logger) { context in
                try NotificationService(context: context, channel: channel, deliveryInterval: .seconds(3600))
            }
            let runtime = built.runtime
            var tasks = [Task { try await runtime.run() }]
            // The delivery worker's first round runs at start, finds nothing, and then waits.
            if startWorker, let worker = built.service.backgroundServices().first { tasks.append(Task { try await worker.run() }) }
            self.tasks = tasks
        }

        func stop() async {
            built.runtime.stop()
            tasks.forEach { $0.cancel() }
            await built.database.close()
            cluster.stop()
        }

        /// Publishes an OrderConfirmed for `orderId` as Order would (signed with Order's key).
        func confirm(_ orderId: String, sequence: Int64 = 1) async throws {
            var confirmed = Saga_V1_OrderConfirmed()
            confirmed.orderID = orderId
            confirmed.customerID = "C-A"
            confirmed.total = Saga_V1_Money(minorUnits: 1_000, currency: "EUR")
            confirmed.paymentID = "\(orderId)/charge"
            confirmed.confirmedAtUnixMs = EventEnvelope.nowUnixMs()
            let event = SagaEvent.orderConfirmed(confirmed)
            let envelope = EventEnvelope(eventType: event.eventType, orderId: orderId, sequence: sequence, correlationId: UUID())
            let payload = event.encodePayload()
            let signer = try EventSigner(file: fixture.keys.appendingPathComponent(KeyMaterial.eventKeyFile(owner: "order")).path)
            let signature = try signer.signatureHeader(topic: TopicCatalog.orders.name, key: Array(orderId.utf8), payload: payload,
                                                       envelope: envelope)
            let producer = try KafkaProducer(configuration: settings.kafka, logger: Logger(label: "wake-test"))
            _ = try await producer.send(OutgoingMessage(topic: TopicCatalog.orders.name, key: Array(orderId.utf8), value: payload,
                                                        headers: (envelope.headers() + [signature]).map { KafkaHeader(key: $0.name, value: $0.value) }))
            await producer.close()
        }

        /// The order's notification rows ("sent" / "pending") once `done` holds of them, within 60 s.
        func notifications(of orderId: String, until done: ([StoredNotification]) -> Bool) async throws -> [StoredNotification] {
            let deadline = ContinuousClock.now + .seconds(60)
            var rows: [StoredNotification] = []
            while ContinuousClock.now < deadline {
                rows = try await built.database.read { try NotificationStore.forOrder(orderId, on: $0) }
                if done(rows) { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            return rows
        }

        /// NotificationSent rows in the outbox (no relay runs here, so none is deleted).
        func notificationSentInOutbox() async throws -> Int64 {
            try await built.database.read {
                try $0.query("SELECT COUNT(*) AS n FROM outbox WHERE topic = ?", [.text(TopicCatalog.notifications.name)]).first?.int("n") ?? 0
            }
        }
    }

    func testTheConsumersCommitWakesTheDeliveryWorker() async throws {
        // A webhook receiver that takes everything: its port, then each body, on its stdout.
        let receiver = try ChildProcess(executable: URL(fileURLWithPath: "/usr/bin/python3"), arguments: ["-c", """
            import http.server
            class Receiver(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    print(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode(), flush=True)
                    self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
                def log_message(self, *args): pass
            server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
            print(server.server_address[1], flush=True)
            server.serve_forever()
            """], name: "receiver")
        defer { receiver.kill() }
        var port: Int?
        for _ in 0..<200 where port == nil {
            port = receiver.stdout.split(separator: "\n").first.flatMap { Int($0) }
            if port == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let receiverPort = try XCTUnwrap(port, "the receiver's port; its stderr: \(receiver.stderr)")
        let url = try XCTUnwrap(URL(string: "http://127.0.0.1:\(receiverPort)/hook"))

        let running = try await Running(channel: .webhook(url, secret: Array(repeating: 7, count: 32)), startWorker: true)
        let orderId = "wake-\(UUID().uuidString.prefix(8))"
        try await running.confirm(orderId)
        let rows = try await running.notifications(of: orderId) { $0.map(\.state) == [.sent] }
        await running.stop()
        XCTAssertEqual(rows.map(\.state), [.sent], "recorded by the consumer and delivered without waiting for the hourly round")
        XCTAssertEqual(running.built.runtime.statistics.handled, 1, "the OrderConfirmed was applied, not dead-lettered")
        XCTAssertTrue(receiver.stdout.contains(orderId), "the webhook receiver took it")
    }

    /// The file channel (as the log): the consumer records the row SENT and NotificationSent in
    /// its own transaction, with no worker running at all; the line is in the file and the live
    /// stream hears of it after the commit; a second delivery of the confirmation (a new event
    /// for the same order) changes nothing.
    func testAnInPlaceChannelIsDeliveredInTheConsumersTransaction() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("in-tx-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let running = try await Running(channel: .file(path: file), startWorker: false)
        let subscription = try XCTUnwrap(running.built.service.broadcaster.streams.subscribe())
        let orderId = "in-tx-\(UUID().uuidString.prefix(8))"
        try await running.confirm(orderId)
        let rows = try await running.notifications(of: orderId) { !$0.isEmpty }
        XCTAssertEqual(rows.map(\.state), [.sent], "delivered by the consumer, not left PENDING for a worker")
        XCTAssertEqual(rows.first?.attempts, 1)
        XCTAssertEqual(rows.first?.sentAtUnixMs, rows.first?.createdAtUnixMs, "sent in the transaction that recorded it")
        let sentInOutbox = try await running.notificationSentInOutbox()
        XCTAssertEqual(sentInOutbox, 1, "NotificationSent went to the outbox with the row")

        var frames = subscription.stream.makeAsyncIterator()
        let next = await frames.next()
        let frame = try XCTUnwrap(next)
        XCTAssertTrue(String(buffer: frame).contains(orderId), "the live stream heard of the delivery")

        try await running.confirm(orderId, sequence: 2)
        let deadline = ContinuousClock.now + .seconds(60)
        while running.built.runtime.statistics.handled < 2, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let again = try await running.notifications(of: orderId) { _ in true }
        let sentInOutboxAfter = try await running.notificationSentInOutbox()
        await running.stop()
        XCTAssertEqual(running.built.runtime.statistics.handled, 2,
                       "the second confirmation reached the handler")
        XCTAssertEqual(again.map(\.attempts), [1], "delivered once")
        XCTAssertEqual(sentInOutboxAfter, 1, "one NotificationSent per notification")
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.filter { $0.contains(orderId) }.count, 1, "the file channel took it once")
    }
}
