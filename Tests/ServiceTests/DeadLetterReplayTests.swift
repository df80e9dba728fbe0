import EventSchema
import Foundation
import SagaAPI
import ServiceKit
import XCTest
@testable import DevClusterTesting

/// `kafka-tool deadletters` against the real services: a dead letter whose cause is then fixed
/// (Inventory lacked a SKU that Order sells) is listed, shown, replayed, and ends its order;
/// replayed again, it is processed no second time.
final class DeadLetterReplayTests: XCTestCase {
    static let shared = SeedCatalog(
        currency: "EUR",
        skus: [.init(sku: "SKU-KNOWN", unitPrice: 500, stock: 100), .init(sku: "SKU-LATE", unitPrice: 900, stock: 10)],
        customers: [.init(customerId: "C-REPLAY", balance: 1_000_000)])
    /// Inventory's own catalog first lacks SKU-LATE: the catalogs disagree.
    static let inventoryBefore = SeedCatalog(currency: "EUR", skus: [.init(sku: "SKU-KNOWN", unitPrice: 500, stock: 100)], customers: [])

    func kafkaTool(_ stack: SagaStack, _ arguments: [String]) throws -> ProcessResult {
        let result = try ChildProcess.run(try SagaStack.binary("kafka-tool").path,
                                          arguments + ["--bootstrap-file", stack.cluster.bootstrapFile.path, "--dev-cluster",
                                                       "--keyring-file", stack.keyringFile, "--signing-key-file", stack.operatorKeyFile],
                                          timeout: 120)
        if result.status != 0 { print("kafka-tool \(arguments.joined(separator: " ")):\n\(result.stdout)\n\(result.stderr)") }
        return result
    }

    func testAFixedCauseReplayedEndsItsOrderOnceEvenIfReplayedTwice() throws {
        let inventorySeed = FileManager.default.temporaryDirectory.appendingPathComponent("inventory-seed-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: inventorySeed) }
        try JSONEncoder().encode(Self.inventoryBefore).write(to: inventorySeed)
        let stack = try SagaStack(seed: Self.shared, sagaTimeoutMs: 180_000,
                                  extraArguments: [.inventory: ["--seed-file", inventorySeed.path]])
        defer { stack.stop() }
        let client = SagaClient(stack: stack)

        let id = try client.place(customer: "C-REPLAY", [.init(sku: "SKU-LATE", quantity: 2)])
        let listed = try client.poll("Inventory's dead letter", timeout: 60) { () -> [String: Any]? in
            let list = try kafkaTool(stack, ["deadletters", "list", "--group", "inventory", "--json"])
            return list.stdout.split(separator: "\n").compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
            }.first { $0["orderId"] as? String == id }
        }
        XCTAssertEqual(listed["originTopic"] as? String, TopicCatalog.orders.name)
        XCTAssertTrue((listed["error"] as? String ?? "").contains("SKU-LATE"), "\(listed)")
        let letterId = try XCTUnwrap(listed["id"] as? String)
        XCTAssertEqual(try client.order(id)["status"] as? String, "PENDING", "the order waits (its deadline is far)")

        let shown = try kafkaTool(stack, ["deadletters", "show", letterId])
        XCTAssertEqual(shown.status, 0)
        XCTAssertTrue(shown.stdout.contains("decoded as OrderPlaced") && shown.stdout.contains("SKU-LATE"), shown.stdout)

        // The fix: Inventory gets the SKU (seeding inserts what is missing), then the replay.
        try JSONEncoder().encode(Self.shared).write(to: inventorySeed)
        try stack.restart(.inventory)
        let replay = try kafkaTool(stack, ["deadletters", "replay", "--id", letterId])
        XCTAssertEqual(replay.status, 0)
        XCTAssertTrue(replay.stdout.contains("replayed \(letterId)"), replay.stdout)
        let order = try client.waitForEnd(id, timeout: 90)
        XCTAssertEqual(order["status"] as? String, "CONFIRMED", "\(order)")
        XCTAssertEqual(try client.stock("SKU-LATE"), ["initial": 10, "available": 8, "reserved": 0, "sold": 2])

        // Replayed again: the inbox knows this replay; nothing changes.
        let inboxSkips = try client.metric(.inventory, "messaging_skipped_total", ["reason": "inbox"])
        XCTAssertEqual(try kafkaTool(stack, ["deadletters", "replay", "--id", letterId]).status, 0)
        _ = try client.poll("the second replay skipped", timeout: 60) { () -> Bool? in
            try client.metric(.inventory, "messaging_skipped_total", ["reason": "inbox"]) > inboxSkips ? true : nil
        }
        XCTAssertEqual(try client.stock("SKU-LATE"), ["initial": 10, "available": 8, "reserved": 0, "sold": 2])
        XCTAssertEqual(try client.balance("C-REPLAY"), 1_000_000 - 1_800)

        // A replay needs a selector; a refused one says what to give.
        let bare = try ChildProcess.run(try SagaStack.binary("kafka-tool").path,
                                        ["deadletters", "replay", "--bootstrap-file", stack.cluster.bootstrapFile.path, "--dev-cluster",
                                         "--keyring-file", stack.keyringFile, "--signing-key-file", stack.operatorKeyFile], timeout: 60)
        XCTAssertNotEqual(bare.status, 0)
        XCTAssertTrue(bare.stderr.contains("say which dead letters to replay"), bare.stderr)
    }
}
