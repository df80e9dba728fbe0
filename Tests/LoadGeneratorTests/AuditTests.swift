import EventSchema
import Kafka
import Testing
@testable import LoadGenerator

/// Each test starts from a snapshot the saga could have left, checks that it passes, breaks one
/// thing and expects the audit to fail on exactly the invariant that thing violates.
@Suite("Audit")
struct AuditTests {
    typealias Line = AuditSnapshot.Line

    func failing(_ world: SagaWorld) -> [Int] {
        Auditor.audit(world.snapshot).failedInvariants
    }

    @Test("a consistent snapshot passes every invariant")
    func consistentPasses() {
        let result = Auditor.audit(SagaWorld.consistent().snapshot)
        #expect(result.passed, "\(result.invariants.flatMap(\.examples))")
        #expect(result.invariants.map(\.number) == [1, 2, 3, 4, 5])
        #expect(result.invariants[0].checked == 5)
    }

    // MARK: 1. terminal

    @Test("1: an order still PENDING after the drain")
    func pendingOrder() {
        var world = SagaWorld.consistent()
        world.stuck("O-9", lines: [Line(sku: "SKU-0001", quantity: 1)], total: 500)
        #expect(failing(world) == [1])
        #expect(Auditor.audit(world.snapshot).invariants[0].examples == ["order O-9 is still PENDING"])
    }

    @Test("1: two different terminal events for one order")
    func twoTerminalEvents() {
        var world = SagaWorld.consistent()
        world.emit(.orderCancelled, "O-1", cancelReason: "timeout")
        #expect(failing(world) == [1])
    }

    @Test("1: a terminal event that contradicts the status")
    func terminalEventContradictsStatus() {
        var world = SagaWorld.consistent()
        world.updateRecords(where: { $0.orderId == "O-3" && $0.eventType == .orderCancelled }) { $0.cancelReason = "timeout" }
        #expect(failing(world) == [1])
    }

    @Test("1: the same terminal event published twice is fine")
    func redeliveredTerminalEvent() {
        var world = SagaWorld.consistent()
        world.redeliver(world.records(.orderConfirmed, of: "O-1")[0])
        let result = Auditor.audit(world.snapshot)
        #expect(result.passed)
        #expect(result.invariants[4].notes.count == 1)
    }

    @Test("1: an accepted order the Order service does not list")
    func acceptedButMissing() {
        var world = SagaWorld.consistent()
        world.snapshot.acceptedOrderIds = ["O-1", "O-2", "O-3", "O-4", "O-5"]
        #expect(failing(world) == [])
        world.snapshot.acceptedOrderIds?.insert("O-404")
        #expect(failing(world) == [1])
    }

    @Test("1 and 4: a terminal event or a notification missing from a partition that retention cut is not checked, elsewhere it is a violation")
    func recordsDeletedByRetention() throws {
        var world = SagaWorld.consistent()
        world.snapshot.records.removeAll { $0.orderId == "O-1" && ($0.eventType == .orderConfirmed || $0.eventType == .notificationSent) }
        #expect(failing(world) == [1, 4], "an untruncated log: the missing records are violations")

        let orders = PartitionRef(topic: TopicCatalog.orders.name, partition: 0)
        let notifications = PartitionRef(topic: TopicCatalog.notifications.name, partition: 0)
        world.snapshot.watermarks = [orders: Watermarks(low: 0, high: 100), notifications: Watermarks(low: 0, high: 100)]
        #expect(failing(world) == [1, 4], "watermarks read, nothing deleted: still violations")

        world.snapshot.watermarks[orders] = Watermarks(low: 3, high: 100)
        world.snapshot.watermarks[notifications] = Watermarks(low: 1, high: 100)
        let result = Auditor.audit(world.snapshot)
        #expect(result.passed, "\(result.invariants.flatMap(\.examples))")
        #expect(result.invariants[0].unchecked == 1 && result.invariants[3].unchecked == 1)
        #expect(try #require(result.invariants[0].uncheckedWhy).contains("retention"))
        #expect(result.notes.contains { $0.hasPrefix("orders.v1[0] starts at offset 3") })

        // What retention cannot explain stays a violation: a second terminal event, and a
        // missing notification on a partition it did not cut.
        world.emit(.orderCancelled, "O-2", cancelReason: "timeout")
        world.snapshot.watermarks[notifications] = Watermarks(low: 0, high: 100)
        #expect(failing(world) == [1, 4])
    }

    // MARK: 2. stock

    @Test("2: a unit of stock went missing")
    func missingUnit() {
        var world = SagaWorld.consistent()
        world.adjustStock("SKU-0002") { $0.available -= 1 }
        #expect(failing(world) == [2])
    }

    @Test("2: negative stock")
    func negativeStock() {
        var world = SagaWorld(skus: ["SKU-0001": 0])
        world.adjustStock("SKU-0001") { $0.available = -1; $0.initial = -1 }
        #expect(failing(world) == [2])
    }

    @Test("2: stock still reserved for a finished order")
    func reservedForFinishedOrder() {
        var world = SagaWorld.consistent()
        // O-4's payment failed, but Inventory never released its reservation.
        world.snapshot.reservations[world.snapshot.reservations.firstIndex { $0.orderId == "O-4" }!].state = "RESERVED"
        world.adjustStock("SKU-0001") { $0.available -= 1; $0.reserved += 1 }
        #expect(failing(world) == [2])
    }

    @Test("2: sold does not match the CONFIRMED orders")
    func soldMismatch() {
        var world = SagaWorld.consistent()
        world.adjustStock("SKU-0001") { $0.available -= 1; $0.sold += 1 }
        #expect(failing(world) == [2])
    }

    // MARK: 3. balances

    @Test("3: an extra charge")
    func extraCharge() {
        var world = SagaWorld.consistent()
        world.adjustAccount("C-00001") { $0.balance -= 250 }
        #expect(failing(world) == [3])
    }

    @Test("3: a cancelled order that was charged and never refunded")
    func missingRefund() {
        var world = SagaWorld.consistent()
        world.snapshot.payments[world.snapshot.payments.firstIndex { $0.orderId == "O-5" }!].netCharge = 1200
        world.adjustAccount("C-00002") { $0.balance -= 1200 }
        #expect(failing(world) == [3])
    }

    @Test("3: a negative balance")
    func negativeBalance() {
        var world = SagaWorld(customers: ["C-00001": 100])
        world.confirmed("O-1", lines: [Line(sku: "SKU-0001", quantity: 1)], total: 150)
        #expect(failing(world) == [3])
    }

    // MARK: 4. once per order

    @Test("4: a duplicate notification")
    func duplicateNotification() {
        var world = SagaWorld.consistent()
        world.snapshot.notifications.append(.init(notificationId: "N-O-2-again", orderId: "O-2", kind: .orderConfirmed))
        #expect(failing(world) == [4])
    }

    @Test("4: two NotificationSent events with different event-ids")
    func duplicateNotificationEvent() {
        var world = SagaWorld.consistent()
        world.emit(.notificationSent, "O-2", notificationKind: .orderConfirmed)
        #expect(failing(world) == [4])
    }

    @Test("4: a notification of the wrong kind")
    func wrongNotificationKind() {
        var world = SagaWorld.consistent()
        world.snapshot.notifications[world.snapshot.notifications.firstIndex { $0.orderId == "O-3" }!].kind = .orderConfirmed
        #expect(failing(world) == [4])
    }

    @Test("4: a terminal order nobody was told about")
    func missingNotification() {
        var world = SagaWorld.consistent()
        world.snapshot.notifications.removeAll { $0.orderId == "O-4" }
        world.snapshot.records.removeAll { $0.orderId == "O-4" && $0.eventType == .notificationSent }
        #expect(failing(world) == [4])
    }

    @Test("4: two StockReserved events with different event-ids")
    func twoReservations() {
        var world = SagaWorld.consistent()
        world.emit(.stockReserved, "O-1")
        #expect(failing(world) == [4])
    }

    @Test("4: two charges, two refunds")
    func twoChargesOrRefunds() {
        var charged = SagaWorld.consistent()
        charged.emit(.paymentCharged, "O-2")
        #expect(failing(charged) == [4])
        var refunded = SagaWorld.consistent()
        refunded.emit(.paymentRefunded, "O-5")
        #expect(failing(refunded) == [4])
    }

    // MARK: 5. sequences

    @Test("5: a sequence going backwards")
    func sequenceBackwards() {
        var world = SagaWorld.consistent()
        // O-1's OrderConfirmed (sequence 1) gets a lower sequence than its OrderPlaced (0 → 2).
        world.updateRecords(where: { $0.orderId == "O-1" && $0.eventType == .orderPlaced }) { $0.sequence = 2 }
        #expect(failing(world) == [5])
    }

    @Test("5: a repeated sequence with a different event-id")
    func repeatedSequence() {
        var world = SagaWorld.consistent()
        world.updateRecords(where: { $0.orderId == "O-4" && $0.eventType == .stockReleased }) { $0.sequence = 0 }
        #expect(failing(world) == [5])
    }

    @Test("5: one event-id with two sequences")
    func eventIdWithTwoSequences() {
        var world = SagaWorld.consistent()
        var copy = world.records(.paymentCharged, of: "O-1")[0]
        copy.sequence = 7
        world.redeliver(copy)
        #expect(failing(world) == [5])
    }

    @Test("5: an order's events spread over two partitions")
    func notCoPartitioned() {
        var world = SagaWorld.consistent()
        world.updateRecords(where: { $0.orderId == "O-5" && $0.eventType == .stockReleased }) { $0.partition = 1 }
        #expect(failing(world) == [5])
    }

    @Test("redeliveries of a whole batch (A B A B) are allowed")
    func batchRedelivery() {
        var world = SagaWorld.consistent()
        let placed = world.records(.orderPlaced, of: "O-2")[0]
        let confirmed = world.records(.orderConfirmed, of: "O-2")[0]
        world.redeliver(placed)
        world.redeliver(confirmed)
        #expect(failing(world) == [])
    }

    // MARK: Reporting

    @Test("violations are counted in full, with a few examples")
    func examplesAreCapped() {
        var world = SagaWorld.consistent()
        for index in 0..<8 { world.stuck("P-\(index)", lines: [Line(sku: "SKU-0001", quantity: 1)], total: 1) }
        let terminal = Auditor.audit(world.snapshot).invariants[0]
        #expect(terminal.violations == 8)
        #expect(terminal.examples.count == InvariantResult.exampleLimit)
        #expect(TextReport.render(Auditor.audit(world.snapshot)).contains("… and 3 more"))
    }

    @Test("undecodable records are reported, not silently dropped")
    func undecodableNoted() {
        var world = SagaWorld.consistent()
        world.snapshot.undecodableRecords = ["orders.v1[0]@9: missing header event-id"]
        let result = Auditor.audit(world.snapshot)
        #expect(result.passed)
        #expect(result.notes.count == 1)
    }
}
