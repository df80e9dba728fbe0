import Credentials
import EventSchema
import Foundation
import Hummingbird
import HummingbirdTesting
import Kafka
import Logging
import Messaging
import NIOCore
import OrderCore
import Persistence
import SagaAPI
import ServiceKit
import XCTest
@testable import OrderService

/// Order's HTTP placement and its deadline sweeper in process, on a SQLite database whose clock
/// runs ten minutes behind the process's wall clock: what a service with a wrong clock would
/// decide differently. Fast (no Kafka: the relay is only woken, never started).
final class OrderPlacementInProcessTests: XCTestCase {
    static let skewMs: Int64 = 600_000
    static let sagaTimeoutMs: Int64 = 2_000

    struct Service {
        let built: ServiceRunner.Built<OrderService>
        let token: String
        var database: any SQLDatabase { built.database }
        var sweeper: DeadlineSweeper { built.service.sweeper }

        func close() async { await database.close() }

        func order(_ id: String) async throws -> OrderRecord {
            let order = try await database.read { try OrderStore.load(id, on: $0) }
            return try XCTUnwrap(order, "no order \(id)")
        }

        func databaseNow() async throws -> Int64 { try await database.read { try $0.databaseTimeMillis() } }
    }

    var fixture: EdgeFixture!

    override func setUp() async throws {
        fixture = try EdgeFixture()
    }

    /// Order built in process (`ServiceRunner.build`) on a fresh database whose clock (SQLite's
    /// monotonic anchor) is `skewMs` behind the wall clock.
    func service() async throws -> Service {
        let file = fixture.directory.appendingPathComponent("order.db")
        let first = try await openDatabase(url: "sqlite://\(file.path)")
        try await first.write { try $0.execute("UPDATE database_clock SET offset_ms = offset_ms - ?", [.integer(Self.skewMs)]) }
        await first.close()
        let service = Service(built: try await fixture.order(sagaTimeoutMs: Self.sagaTimeoutMs),
                              token: try await fixture.token([.customer], "C-1"))
        let wall = Int64(Date().timeIntervalSince1970 * 1000)
        let skew = wall - (try await service.databaseNow())
        XCTAssertEqual(Double(skew), Double(Self.skewMs), accuracy: 5_000, "the database's clock runs behind the wall clock")
        return service
    }

    func app(_ service: Service) -> some ApplicationProtocol { service.built.app }

    /// One order placed through POST /orders (accepted), as stored.
    func placeOne(_ service: Service) async throws -> OrderRecord {
        let token = service.token
        let (status, orderId) = try await app(service).test(.router) { client in
            try await Self.place(client, [("SKU-1", 2)], key: nil, token: token)
        }
        XCTAssertEqual(status, .accepted)
        return try await service.order(try XCTUnwrap(orderId))
    }

    static func body(_ lines: [(String, Int)]) -> ByteBuffer {
        let items = lines.map { #"{"sku": "\#($0.0)", "quantity": \#($0.1)}"# }.joined(separator: ", ")
        return ByteBuffer(string: #"{"customerId": "C-1", "currency": "EUR", "lines": [\#(items)]}"#)
    }

    /// POST /orders; the status and the orderId of the answer.
    static func place(_ client: some TestClientProtocol, _ lines: [(String, Int)], key: String?, token: String) async throws -> (HTTPResponse.Status, String?) {
        var headers: HTTPFields = [.contentType: "application/json", .authorization: "Bearer \(token)"]
        if let key { headers[HeaderNames.idempotencyKey] = key }
        return try await client.execute(uri: "/orders", method: .post, headers: headers, body: body(lines)) { response in
            let json = try? JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
            return (response.status, json?["orderId"] as? String)
        }
    }

    /// The deadline is the database's clock plus the saga timeout, and the sweeper decides it by
    /// the same clock: nothing is cancelled while the database says the deadline is ahead, though
    /// the wall clock is ten minutes past it; once the database's clock passes it, the order is.
    func testTheDeadlineIsSetAndDecidedByTheDatabasesClock() async throws {
        let service = try await service()
        let placed = try await placeOne(service)
        let id = placed.orderId
        let now = try await service.databaseNow()
        XCTAssertEqual(Double(placed.deadlineUnixMs - now), Double(Self.sagaTimeoutMs), accuracy: 1_500,
                       "deadline = the database's now + the saga timeout")

        let early = try await service.sweeper.sweep()
        XCTAssertEqual(early, 0, "the wall clock is past the deadline; the database's clock is not")
        let pending = try await service.order(id)
        XCTAssertEqual(pending.status, .pending)

        let deadline = ContinuousClock.now + .seconds(30)
        while try await service.databaseNow() <= placed.deadlineUnixMs, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let due = try await service.sweeper.sweep()
        XCTAssertEqual(due, 1)
        let cancelled = try await service.order(id)
        XCTAssertEqual(cancelled.status, .cancelled)
        XCTAssertEqual(cancelled.cancelReason, .timeout)
        await service.close()
    }

    /// A repeated Idempotency-Key with the same body answers the first order; with another body, 409.
    func testAnIdempotencyKeyIsBoundToItsBody() async throws {
        let service = try await service()
        let token = service.token
        try await app(service).test(.router) { client in
            let (first, id) = try await Self.place(client, [("SKU-1", 2)], key: "key-1", token: token)
            XCTAssertEqual(first, .accepted)
            let (again, sameId) = try await Self.place(client, [("SKU-1", 2)], key: "key-1", token: token)
            XCTAssertEqual(again, .accepted)
            XCTAssertEqual(sameId, id, "the same key and body answer the first order")
            let (other, otherId) = try await Self.place(client, [("SKU-2", 1)], key: "key-1", token: token)
            XCTAssertEqual(other, .conflict, "another body under a used key is refused (got orderId \(otherId ?? "none"))")
            let (fresh, freshId) = try await Self.place(client, [("SKU-2", 1)], key: "key-2", token: token)
            XCTAssertEqual(fresh, .accepted)
            XCTAssertNotEqual(freshId, id)
        }
        let count = try await service.database.read { try $0.query("SELECT count(*) AS n FROM orders")[0].int("n") }
        XCTAssertEqual(count, 2, "two orders, whatever the retries")
        await service.close()
    }

    /// Every event an order sees or emits is in its history once: the history rows are written
    /// at the end of each transaction (`UnitOfWork.insertAtEnd`), also by a transaction that
    /// only records an event that changes nothing, and the same event again adds no entry.
    func testTheHistoryHoldsEveryEventSeenOnceIncludingThoseThatChangeNothing() async throws {
        let service = try await service()
        let order = try await placeOne(service)
        let id = order.orderId

        var reserved = Saga_V1_StockReserved()
        reserved.orderID = id
        reserved.customerID = order.customerId
        reserved.amount = order.total
        var charged = Saga_V1_PaymentCharged()
        charged.orderID = id
        charged.customerID = order.customerId
        charged.amount = order.total
        charged.paymentID = "pay-\(id)"
        let stock = ConcurrentInstancesTests.inbound(.stockReserved(reserved), topic: TopicCatalog.inventory.name, offset: 1, group: "order")
        let payment = ConcurrentInstancesTests.inbound(.paymentCharged(charged), topic: TopicCatalog.payments.name, offset: 1, group: "order")
        let database = service.database
        let consume = { @Sendable (events: [InboundEvent]) async throws -> [HandlerOutcome] in
            try await database.write { connection in
                try UnitOfWork.run(on: connection) { unit in try events.map { try OrderEventHandler.handle($0, unit) } }
            }
        }
        let history = { @Sendable () async throws -> [String] in
            try await database.read { try OrderStore.history(id, on: $0) }.map(\.eventType).sorted()
        }

        _ = try await consume([stock])
        let afterStock = try await history()
        XCTAssertEqual(afterStock, ["OrderPlaced", "StockReserved"], "a transaction that changed nothing recorded no history")
        _ = try await consume([payment, stock])
        let afterPayment = try await history()
        XCTAssertEqual(afterPayment, ["OrderConfirmed", "OrderPlaced", "PaymentCharged", "StockReserved"])
        let confirmed = try await service.order(id)
        XCTAssertEqual(confirmed.status, .confirmed)
        await service.close()
    }
}
