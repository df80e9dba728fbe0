import AsyncHTTPClient
import Credentials
import DeadLetterQueue
import EventSchema
import Foundation
import Hummingbird
import HummingbirdTesting
import Kafka
import Logging
import SagaTimeline
import ServiceKit
import XCTest
@testable import Console

/// A console put together in process over fixture data: a real token issuer and JWKS (the
/// verifier is the services' own), an index fed one order's five events across the four
/// services and a dead letter it caused, fixture records for its page, services that are not
/// there (127.0.0.1:1), and a replayer that records what it is given.
final class ConsoleFixture: @unchecked Sendable {
    static let orderId = "order-0001"
    static let customer = "C-00042"

    let directory: URL
    let tokens: TokenIssuer
    let dependencies: ConsoleDependencies
    let router: Router<EdgeContext>
    let routes: EdgeRoutes
    let replayer = RecordingReplayer()
    let letter: DeadLetterRecord

    init() async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("console-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let keys = directory.appendingPathComponent("keys")
        tokens = try KeyMaterial.create(in: keys, issuer: "order-saga", audience: "order-saga").issuer
        let verifier = TokenVerifier(keys: try await JWKSSource.open(keys.appendingPathComponent(KeyMaterial.jwksFile).path),
                                     configuration: .init(issuer: "order-saga", audience: "order-saga"))
        let index = SagaIndex()
        index.start(ends: [:])  // nothing to catch up on: the fixture is all there is
        let (records, letter) = Self.saga(into: index)
        self.letter = letter
        let logger = Logger(label: "console-test")
        dependencies = ConsoleDependencies(
            index: index, sessions: SessionStore(secureCookies: false), verifier: verifier,
            directory: try ServiceDirectory(["order=http://127.0.0.1:1", "inventory=http://127.0.0.1:1",
                                             "payment=http://127.0.0.1:1", "notification=http://127.0.0.1:1"]),
            client: ServiceClient(http: HTTPClient.shared, timeout: .seconds(2)),
            records: FixtureRecords(records: records), replayer: replayer, alertmanagerURL: nil,
            jaegerURL: "http://127.0.0.1:16686", actions: ActionLog(logger: logger), logger: logger)
        (router, routes) = ConsoleApp.buildRouter(dependencies)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    var app: some ApplicationProtocol { Application(router: router) }

    func token(_ roles: [Role], _ subject: String) async throws -> String {
        try await tokens.token(subject: subject, roles: roles)
    }

    /// OrderPlaced → StockReserved → PaymentCharged → OrderConfirmed → NotificationSent, each on
    /// its topic's partition and offset, indexed as the follower would; and a dead letter of the
    /// order whose error is markup (it must reach the page as text).
    static func saga(into index: SagaIndex) -> ([OrderTimeline.Record], DeadLetterRecord) {
        let start: Int64 = 1_780_000_000_000
        let correlation = UUID()
        var records: [OrderTimeline.Record] = []
        var previous: UUID?
        var placed = Saga_V1_OrderPlaced()
        placed.customerID = customer
        placed.placedAtUnixMs = start
        var total = Saga_V1_Money()
        total.minorUnits = 2_500
        total.currency = "EUR"
        placed.total = total
        var reserved = Saga_V1_StockReserved()
        reserved.customerID = customer
        var charged = Saga_V1_PaymentCharged()
        charged.customerID = customer
        var confirmed = Saga_V1_OrderConfirmed()
        confirmed.customerID = customer
        confirmed.confirmedAtUnixMs = start + 40
        var sent = Saga_V1_NotificationSent()
        sent.customerID = customer
        sent.kind = .orderConfirmed
        let events: [(SagaEvent, String, Int32, Int64)] = [
            (.orderPlaced(placed), TopicCatalog.orders.name, 3, 100),
            (.stockReserved(reserved), TopicCatalog.inventory.name, 1, 200),
            (.paymentCharged(charged), TopicCatalog.payments.name, 2, 300),
            (.orderConfirmed(confirmed), TopicCatalog.orders.name, 3, 101),
            (.notificationSent(sent), TopicCatalog.notifications.name, 0, 400),
        ]
        for (i, (event, topic, partition, offset)) in events.enumerated() {
            let envelope = EventEnvelope(eventId: UUID(), eventType: event.eventType, orderId: orderId, sequence: Int64(i + 1),
                                         causationId: previous, correlationId: correlation,
                                         traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                                         producedAtUnixMs: start + Int64(i) * 10)
            previous = envelope.eventId
            records.append(OrderTimeline.Record(topic: topic, partition: partition, offset: offset,
                                                timestampMs: start + Int64(i) * 10 + 2, envelope: envelope))
            index.apply(event: event, orderId: orderId, topic: topic, partition: partition, offset: offset, timestampMs: start + Int64(i) * 10)
        }
        let original = records[2]
        let dead = Saga_V1_DeadLetter(
            originTopic: original.topic, originPartition: original.partition, originOffset: original.offset + 7,
            key: Array(orderId.utf8), headers: original.envelope.headers().map { (name: $0.name, value: Optional($0.value)) },
            payload: [0xde, 0xad, 0xbe, 0xef], error: "<script>alert('x')</script> contradicts the order's state",
            errorKind: .rejected, consumerGroup: "order")
        let letter = DeadLetterRecord(id: UUID(), producedAtUnixMs: start + 50, letter: dead, partition: 4, offset: 9)
        index.apply(letter: letter)
        return (records, letter)
    }
}

struct FixtureRecords: OrderRecordSource {
    let records: [OrderTimeline.Record]

    func read(orderId: String, within plan: [String: Range<Int64>]) async throws -> OrderRecordReader.Contents {
        OrderRecordReader.Contents(records: records.filter { $0.envelope.orderId == orderId })
    }
}

/// Records the letters it is asked to replay, and refuses them (a test sends nothing).
final class RecordingReplayer: DeadLetterReplaying, @unchecked Sendable {
    private let lock = NSLock()
    private var calls: [[UUID]] = []

    var replayed: [[UUID]] { lock.withLock { calls } }

    func replay(_ letters: [DeadLetterRecord]) async throws -> [(DeadLetterRecord, DeadLetterReplayer.Outcome)] {
        lock.withLock { calls.append(letters.map(\.id)) }
        return letters.map { ($0, .refused("recorded by the test, not sent")) }
    }
}

func call(_ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, token: String? = nil,
          cookie: String? = nil, form: String? = nil) async throws -> TestResponse {
    var fields: HTTPFields = [:]
    if let token { fields[.authorization] = "Bearer \(token)" }
    if let cookie { fields[.cookie] = cookie }
    if form != nil { fields[.contentType] = "application/x-www-form-urlencoded" }
    return try await client.execute(uri: uri, method: method, headers: fields, body: form.map { ByteBuffer(string: $0) })
}

extension TestResponse {
    var text: String { String(buffer: body) }

    /// `name=value` of a Set-Cookie header naming `name`, with the whole header.
    func cookie(_ name: String) -> (pair: String, header: String)? {
        for header in headers[values: .setCookie] where header.hasPrefix(name + "=") {
            return (String(header.prefix { $0 != ";" }), header)
        }
        return nil
    }
}

/// The value of `<input … name="NAME" value="VALUE">` in a page.
func formValue(_ name: String, in page: String) -> String? {
    guard let range = page.range(of: "name=\"\(name)\" value=\"") else { return nil }
    return String(page[range.upperBound...].prefix { $0 != "\"" })
}
