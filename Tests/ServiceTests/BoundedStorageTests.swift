import Foundation
import SagaAPI
import ServiceKit
import XCTest
@testable import DevClusterTesting

/// A long run's databases stay bounded: inbox rows, the outbox sequence rows of finished orders
/// and Idempotency-Keys are pruned after their windows (here shortened to seconds), and every
/// table's size is a metric.
final class BoundedStorageTests: XCTestCase {
    static let seed = SeedCatalog(
        currency: "EUR", skus: [.init(sku: "SKU-PRUNE", unitPrice: 100, stock: 10_000)],
        customers: [.init(customerId: "C-PRUNE", balance: 10_000_000)])

    func testInboxSequencesAndIdempotencyKeysArePrunedAndTheirSizesAreMetrics() throws {
        let retention = ["--messaging-retention-ms", "2000", "--prune-interval-ms", "500"]
        let stack = try SagaStack(seed: Self.seed, extraArguments: [
            .order: retention + ["--idempotency-key-retention-ms", "2000"], .inventory: retention,
            .payment: retention, .notification: retention,
        ])
        defer { stack.stop() }
        let client = SagaClient(stack: stack)
        let first = try client.place(customer: "C-PRUNE", [.init(sku: "SKU-PRUNE", quantity: 1)], key: "prune-key-1")
        var ids = [first]
        for _ in 0..<9 { ids.append(try client.place(customer: "C-PRUNE", [.init(sku: "SKU-PRUNE", quantity: 1)])) }
        for id in ids { XCTAssertEqual(try client.waitForEnd(id)["status"] as? String, "CONFIRMED") }
        // The replay within the window is the same order.
        XCTAssertEqual(try client.place(customer: "C-PRUNE", [.init(sku: "SKU-PRUNE", quantity: 1)], key: "prune-key-1"), first)

        func rows(_ service: ServiceName, _ table: String) throws -> Double {
            try client.metric(service, "database_table_rows", ["table": table])
        }
        // Sizes are published; then the windows pass and the pruners empty what they own.
        _ = try client.poll("table sizes published", timeout: 30) { try rows(.inventory, "inbox") > 0 ? true : nil }
        _ = try client.poll("inboxes, sequence rows and idempotency keys pruned", timeout: 60) { () -> Bool? in
            let empty = try [ServiceName.order, .inventory, .payment, .notification].allSatisfy { try rows($0, "inbox") == 0 }
                && rows(.order, "outbox_sequences") == 0 && rows(.inventory, "outbox_sequences") == 0
                && rows(.payment, "outbox_sequences") == 0 && rows(.order, "idempotency_keys") == 0
            return empty ? true : nil
        }
        XCTAssertGreaterThan(try client.metric(.inventory, "messaging_inbox_pruned_total"), 0)
        XCTAssertGreaterThan(try client.metric(.inventory, "messaging_sequences_pruned_total"), 0)
        XCTAssertEqual(try rows(.order, "orders"), Double(ids.count), "business rows stay")
        // The key was forgotten: it places a new order now.
        XCTAssertNotEqual(try client.place(customer: "C-PRUNE", [.init(sku: "SKU-PRUNE", quantity: 1)], key: "prune-key-1"), first)
    }
}
