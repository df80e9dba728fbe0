import EventSchema
import Foundation
import Kafka
import Locking
import SagaAPI
import ServiceKit
import XCTest
@testable import DevClusterTesting

#if canImport(Glibc)
import Glibc
#endif

/// The saga end to end: the dev cluster and the four real executables (SQLite each), driven
/// through their HTTP APIs. One stack for the class; every test uses its own customers and
/// SKUs, so the tests do not see each other's orders.
final class SagaEndToEndTests: XCTestCase {
    nonisolated(unsafe) static var shared: SagaStack?

    static let seed = SeedCatalog(
        currency: "EUR",
        skus: [
            .init(sku: "SKU-HAPPY", unitPrice: 1_000, stock: 1_000),
            .init(sku: "SCARCE-01", unitPrice: 500, stock: 0),
            .init(sku: "SKU-FUNDS", unitPrice: 2_000, stock: 100),
            .init(sku: "SKU-STALL", unitPrice: 700, stock: 100),
            .init(sku: "LIMITED-50", unitPrice: 100, stock: 50),
            .init(sku: "SKU-KILL", unitPrice: 100, stock: 100_000),
            .init(sku: "SKU-POISON", unitPrice: 100, stock: 1_000),
            .init(sku: "SKU-IDEM", unitPrice: 300, stock: 100),
        ],
        customers: [
            .init(customerId: "C-HAPPY", balance: 1_000_000),
            .init(customerId: "C-SCARCE", balance: 1_000_000),
            .init(customerId: "BROKE-001", balance: 1_500),
            .init(customerId: "BLOCKED-001", balance: 1_000_000, blocked: true),
            .init(customerId: "C-STALL", balance: 1_000_000),
            .init(customerId: "C-KILL", balance: 100_000_000),
            .init(customerId: "C-POISON", balance: 1_000_000),
            .init(customerId: "C-IDEM", balance: 1_000_000),
        ] + (0..<200).map { .init(customerId: String(format: "C-RUSH-%03d", $0), balance: 10_000) })

    override class func tearDown() {
        shared?.stop()
        shared = nil
        super.tearDown()
    }

    var stack: SagaStack {
        get throws {
            if let stack = Self.shared { return stack }
            let stack = try SagaStack(seed: Self.seed, sagaTimeoutMs: 10_000)
            Self.shared = stack
            return stack
        }
    }

    var client: SagaClient { get throws { SagaClient(stack: try stack) } }

    func testHappyPathConfirmsChargesSellsAndNotifiesOnce() throws {
        let client = try client
        let id = try client.place(customer: "C-HAPPY", [.init(sku: "SKU-HAPPY", quantity: 3)])
        let order = try client.waitForEnd(id)
        XCTAssertEqual(order["status"] as? String, "CONFIRMED", "\(order)")
        let history = (order["history"] as? [[String: Any]] ?? []).compactMap { $0["eventType"] as? String }
        XCTAssertEqual(Set(history), ["OrderPlaced", "StockReserved", "PaymentCharged", "OrderConfirmed"])

        let notifications = try client.waitForNotifications(id)
        XCTAssertEqual(notifications.count, 1)
        XCTAssertEqual(notifications.first?["kind"] as? String, "ORDER_CONFIRMED")
        XCTAssertEqual(try client.balance("C-HAPPY"), 1_000_000 - 3_000)
        let stock = try client.poll("SKU-HAPPY sold", timeout: 20) { () -> [String: Int64]? in
            let s = try client.stock("SKU-HAPPY")
            return s["sold"] == 3 ? s : nil
        }
        XCTAssertEqual(stock["available"], 997)
        XCTAssertEqual(stock["reserved"], 0)
    }

    func testOutOfStockCancelsAndHoldsNothing() throws {
        let client = try client
        let id = try client.place(customer: "C-SCARCE", [.init(sku: "SKU-HAPPY", quantity: 1), .init(sku: "SCARCE-01", quantity: 1)])
        let order = try client.waitForEnd(id)
        XCTAssertEqual(order["status"] as? String, "CANCELLED")
        XCTAssertEqual(order["cancelReason"] as? String, "out_of_stock")
        XCTAssertEqual(try client.reservation(id).json()["state"] as? String, "REJECTED")
        XCTAssertEqual(try client.stock("SCARCE-01")["reserved"], 0)
        // Payment saw only the OrderCancelled: a tombstone that refuses any later charge.
        let payment = try client.poll("Payment's tombstone", timeout: 20) { () -> [String: Any]? in
            let result = try client.payment(id)
            return result.status == 200 ? try result.json() : nil
        }
        XCTAssertEqual(payment["state"] as? String, "CANCELLED")
        XCTAssertEqual((payment["netCharge"] as? NSNumber)?.int64Value, 0)
        XCTAssertEqual(try client.waitForNotifications(id).first?["kind"] as? String, "ORDER_CANCELLED")
        XCTAssertEqual(try client.balance("C-SCARCE"), 1_000_000)
    }

    func testInsufficientFundsReleasesStockAndMovesNoMoney() throws {
        let client = try client
        let id = try client.place(customer: "BROKE-001", [.init(sku: "SKU-FUNDS", quantity: 1)])
        let order = try client.waitForEnd(id)
        XCTAssertEqual(order["status"] as? String, "CANCELLED")
        XCTAssertEqual(order["cancelReason"] as? String, "payment_failed")
        let released = try client.poll("reservation released", timeout: 20) { () -> [String: Any]? in
            let r = try client.reservation(id).json()
            return r["state"] as? String == "RELEASED" ? r : nil
        }
        XCTAssertNotNil(released)
        XCTAssertEqual(try client.stock("SKU-FUNDS"), ["initial": 100, "available": 100, "reserved": 0, "sold": 0])
        XCTAssertEqual(try client.balance("BROKE-001"), 1_500)
        XCTAssertEqual(try client.payment(id).json()["state"] as? String, "FAILED")
    }

    func testBlockedCustomerIsNeverCharged() throws {
        let client = try client
        let id = try client.place(customer: "BLOCKED-001", [.init(sku: "SKU-FUNDS", quantity: 1)])
        let order = try client.waitForEnd(id)
        XCTAssertEqual(order["status"] as? String, "CANCELLED")
        XCTAssertEqual(order["cancelReason"] as? String, "payment_failed")
        XCTAssertTrue((order["detail"] as? String ?? "").contains("blocked"), "\(order)")
        XCTAssertEqual(try client.balance("BLOCKED-001"), 1_000_000)
        _ = try client.waitForNotifications(id)
    }

    func testSameIdempotencyKeyPlacesOneOrder() throws {
        let client = try client
        let key = "idem-\(UUID().uuidString)"
        let first = try client.place(customer: "C-IDEM", [.init(sku: "SKU-IDEM", quantity: 2)], key: key)
        let second = try client.place(customer: "C-IDEM", [.init(sku: "SKU-IDEM", quantity: 2)], key: key)
        XCTAssertEqual(first, second)
        let conflict = try HTTP.post(try stack.url(.order, "/orders"),
                                     json: client.body(customer: "C-IDEM", lines: [.init(sku: "SKU-IDEM", quantity: 5)]),
                                     headers: ["Idempotency-Key": key], token: stack.customerToken("C-IDEM"))
        XCTAssertEqual(conflict.status, 409, conflict.text)
        XCTAssertEqual(conflict.header("Content-Type"), "application/problem+json")
        XCTAssertEqual(try client.waitForEnd(first)["status"] as? String, "CONFIRMED")
        XCTAssertEqual(try client.balance("C-IDEM"), 1_000_000 - 600, "charged once")
    }

    /// 200 orders at once for 50 units: exactly 50 sold, stock never negative.
    func testTwoHundredConcurrentOrdersForFiftyUnitsSellExactlyFifty() throws {
        let client = try client
        let ids = Protected<[String]>([])
        let failures = Protected<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 200) { i in
            do {
                let id = try client.place(customer: String(format: "C-RUSH-%03d", i), [.init(sku: "LIMITED-50", quantity: 1)])
                ids.update { $0.append(id) }
            } catch {
                failures.update { $0.append("\(error)") }
            }
        }
        XCTAssertEqual(failures.value, [])
        var confirmed = 0
        var outOfStock = 0
        for id in ids.value {
            let order = try client.waitForEnd(id)
            if order["status"] as? String == "CONFIRMED" { confirmed += 1 }
            if order["cancelReason"] as? String == "out_of_stock" { outOfStock += 1 }
        }
        XCTAssertEqual(confirmed, 50)
        XCTAssertEqual(outOfStock, 150)
        let stock = try client.poll("LIMITED-50 settled", timeout: 20) { () -> [String: Int64]? in
            let s = try client.stock("LIMITED-50")
            return s["reserved"] == 0 ? s : nil
        }
        XCTAssertEqual(stock, ["initial": 50, "available": 0, "reserved": 0, "sold": 50])
    }

    /// The compensation path, exactly: Payment charges, the saga deadline passes before Order
    /// learns of the charge, Order cancels (timeout), and Payment refunds the charge. While the
    /// deadline passes Order runs with no reachable Kafka: its sweeper decides on its database,
    /// and the charge cannot reach it first, so the outcome has one possible order of events.
    func testAChargeThatMissesTheDeadlineIsRefunded() throws {
        let stack = try stack
        let client = try client
        let customer = "C-STALL"
        let before = try client.balance(customer)
        stack.signal(.payment, SIGSTOP)
        var paymentStopped = true
        defer { if paymentStopped { stack.signal(.payment, SIGCONT) } }
        let id = try client.place(customer: customer, [.init(sku: "SKU-STALL", quantity: 2)])
        let total = try XCTUnwrap(((try client.order(id))["total"] as? [String: Any])?["minorUnits"] as? NSNumber).int64Value
        _ = try client.poll("the stock reserved", timeout: 30) { try client.reservation(id).status == 200 ? true : nil }

        // Order off Kafka: it cannot learn of the charge, and cannot tell Payment of its cancel yet.
        stack.setExtraArguments(.order, ["--bootstrap", "127.0.0.1:1"])
        defer { stack.setExtraArguments(.order, []) }
        stack.kill(.order)
        try stack.start(.order)
        stack.signal(.payment, SIGCONT)
        paymentStopped = false

        _ = try client.poll("Payment to charge", timeout: 60) { () -> Bool? in
            let result = try client.payment(id)
            guard result.status == 200 else { return nil }
            return try result.json()["state"] as? String == "CHARGED" ? true : nil
        }
        XCTAssertEqual(try client.balance(customer), before - total, "charged once")
        let cancelled = try client.poll("Order's sweeper to cancel", timeout: Double(stack.sagaTimeoutMs) / 1000 + 30) { () -> [String: Any]? in
            let order = try client.order(id)
            return order["status"] as? String == "PENDING" ? nil : order
        }
        XCTAssertEqual(cancelled["status"] as? String, "CANCELLED")
        XCTAssertEqual(cancelled["cancelReason"] as? String, "timeout")

        // Back on Kafka: OrderCancelled reaches Payment, which refunds; the late PaymentCharged
        // reaches Order, which stays cancelled.
        stack.setExtraArguments(.order, [])
        try stack.restart(.order)
        let refunded = try client.poll("Payment to refund", timeout: 60) { () -> [String: Any]? in
            let payment = try client.payment(id).json()
            return payment["state"] as? String == "REFUNDED" ? payment : nil
        }
        XCTAssertEqual((refunded["netCharge"] as? NSNumber)?.int64Value, 0, "\(refunded)")
        XCTAssertEqual(try client.balance(customer), before, "refunded exactly once")
        let released = try client.poll("stock released", timeout: 30) { () -> [String: Int64]? in
            let s = try client.stock("SKU-STALL")
            return s["reserved"] == 0 ? s : nil
        }
        XCTAssertEqual(released["available"], released["initial"].map { $0 - (released["sold"] ?? 0) })
        XCTAssertEqual(try client.waitForNotifications(id).map { $0["kind"] as? String }, ["ORDER_CANCELLED"])
        let final = try client.order(id)
        XCTAssertEqual(final["status"] as? String, "CANCELLED", "the late charge did not confirm the order")
        XCTAssertEqual(try client.payment(id).json()["state"] as? String, "REFUNDED")
    }

    /// Every service in turn is SIGKILLed while orders flow and restarted: every order ends,
    /// nothing is applied twice (stock and money add up exactly), one notification per order.
    func testServicesKilledMidRunStillEndEveryOrderWithoutDuplicateEffects() throws {
        let stack = try stack
        let client = try client
        var ids: [String] = []
        for victim in [ServiceName.inventory, .payment, .order, .notification] {
            for _ in 0..<15 { ids.append(try client.place(customer: "C-KILL", [.init(sku: "SKU-KILL", quantity: 1)])) }
            stack.kill(victim)
            if victim != .order {
                for _ in 0..<15 { ids.append(try client.place(customer: "C-KILL", [.init(sku: "SKU-KILL", quantity: 1)])) }
            }
            try stack.start(victim)
            try stack.waitUntilReady(victim)
        }
        var confirmed: Int64 = 0
        for id in ids {
            let order = try client.waitForEnd(id, timeout: 90)
            if order["status"] as? String == "CONFIRMED" { confirmed += 1 }
            let notes = try client.waitForNotifications(id, timeout: 60)
            XCTAssertEqual(notes.count, 1, "order \(id): \(notes)")
        }
        let stock = try client.poll("SKU-KILL settled", timeout: 30) { () -> [String: Int64]? in
            let s = try client.stock("SKU-KILL")
            return s["reserved"] == 0 ? s : nil
        }
        XCTAssertEqual(stock["sold"], confirmed, "sold units = confirmed orders")
        XCTAssertEqual(stock["available"], 100_000 - confirmed)
        let balance = try client.poll("C-KILL settled", timeout: 30) { () -> Int64? in
            let b = try client.balance("C-KILL")
            return b == 100_000_000 - 100 * confirmed ? b : nil
        }
        XCTAssertEqual(balance, 100_000_000 - 100 * confirmed, "money moved once per confirmed order")
    }

    /// A record that is no event at all, written straight into orders.v1 with kcat: every
    /// consumer of the topic dead-letters it and keeps processing the partition.
    func testGarbageMessageIsDeadLetteredAndThePartitionKeepsFlowing() throws {
        let stack = try stack
        let client = try client
        let before = try client.metric(.inventory, "messaging_dead_lettered_total", ["group": "inventory"])
        let produced = try Kcat.produce(stack.cluster.bootstrap, topic: TopicCatalog.orders.name, partition: 0,
                                        lines: ["this is not an event"])
        XCTAssertEqual(produced.status, 0, produced.stderr)
        for (service, group) in [(ServiceName.inventory, "inventory"), (.payment, "payment"), (.notification, "notification")] {
            _ = try client.poll("\(group) to dead-letter the garbage", timeout: 30) { () -> Double? in
                let count = try client.metric(service, "messaging_dead_lettered_total", ["group": group])
                return count >= (group == "inventory" ? before + 1 : 1) ? count : nil
            }
        }
        // An order on the same partition still goes through.
        var id = ""
        repeat {
            id = try client.place(customer: "C-POISON", [.init(sku: "SKU-POISON", quantity: 1)])
        } while Murmur2Partitioner.partition(forKey: id, partitionCount: Int32(TopicCatalog.defaultPartitions)) != 0
        XCTAssertEqual(try client.waitForEnd(id)["status"] as? String, "CONFIRMED")
        // The dead letters go out through the outbox, so they may trail the metric a little.
        _ = try client.poll("the dead letter on \(TopicCatalog.deadLetters.name)", timeout: 30, interval: 500_000) { () -> Bool? in
            let letters = try (0..<TopicCatalog.defaultPartitions).flatMap {
                try Kcat.consume(stack.cluster.bootstrap, topic: TopicCatalog.deadLetters.name, partition: $0)
            }
            return letters.contains { $0.contains("this is not an event") } ? true : nil
        }
    }
}
