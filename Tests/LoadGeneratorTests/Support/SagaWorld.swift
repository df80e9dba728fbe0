import EventSchema
@testable import LoadGenerator

/// Builds a consistent post-drain snapshot the way the saga would leave it, one order at a
/// time, so each audit test can break exactly one thing.
struct SagaWorld {
    typealias Line = AuditSnapshot.Line
    var snapshot = AuditSnapshot()
    private var nextOffset: [String: Int64] = [:]
    private var nextSequence: [String: Int64] = [:]
    private var eventCounter = 0

    init(skus: [String: Int64] = ["SKU-0001": 100, "SKU-0002": 100, "SCARCE-01": 0],
         customers: [String: Int64] = ["C-00001": 100_000, "C-00002": 100_000, "BROKE-001": 0]) {
        snapshot.stock = skus.sorted { $0.key < $1.key }.map {
            AuditSnapshot.Stock(sku: $0.key, initial: $0.value, available: $0.value, reserved: 0, sold: 0)
        }
        snapshot.accounts = customers.sorted { $0.key < $1.key }.map {
            AuditSnapshot.Account(customerId: $0.key, initialBalance: $0.value, balance: $0.value)
        }
    }

    // MARK: - Whole sagas

    /// OrderPlaced → StockReserved → PaymentCharged → OrderConfirmed → sold → NotificationSent.
    mutating func confirmed(_ orderId: String, customer: String = "C-00001", lines: [Line], total: Int64) {
        place(orderId, customer: customer, lines: lines, total: total, status: .confirmed)
        emit(.stockReserved, orderId)
        emit(.paymentCharged, orderId)
        emit(.orderConfirmed, orderId)
        for line in lines { adjustStock(line.sku) { $0.available -= line.quantity; $0.sold += line.quantity } }
        snapshot.reservations.append(.init(orderId: orderId, state: "SOLD", lines: lines))
        snapshot.payments.append(.init(orderId: orderId, customerId: customer, state: "CHARGED", netCharge: total))
        adjustAccount(customer) { $0.balance -= total }
        notify(orderId, .orderConfirmed)
    }

    /// OrderPlaced → StockRejected → OrderCancelled(out_of_stock) → NotificationSent.
    mutating func outOfStock(_ orderId: String, customer: String = "C-00002", lines: [Line], total: Int64) {
        place(orderId, customer: customer, lines: lines, total: total, status: .cancelled, reason: "out_of_stock")
        emit(.stockRejected, orderId)
        emit(.orderCancelled, orderId, cancelReason: "out_of_stock")
        snapshot.reservations.append(.init(orderId: orderId, state: "REJECTED", lines: lines))
        notify(orderId, .orderCancelled)
    }

    /// OrderPlaced → StockReserved → PaymentFailed → StockReleased → OrderCancelled(payment_failed).
    mutating func paymentFailed(_ orderId: String, customer: String = "BROKE-001", lines: [Line], total: Int64) {
        place(orderId, customer: customer, lines: lines, total: total, status: .cancelled, reason: "payment_failed")
        emit(.stockReserved, orderId)
        emit(.paymentFailed, orderId)
        emit(.stockReleased, orderId)
        emit(.orderCancelled, orderId, cancelReason: "payment_failed")
        snapshot.reservations.append(.init(orderId: orderId, state: "RELEASED", lines: lines))
        snapshot.payments.append(.init(orderId: orderId, customerId: customer, state: "FAILED", netCharge: 0))
        notify(orderId, .orderCancelled)
    }

    /// Charged, then the deadline passed: OrderCancelled(timeout), PaymentRefunded, StockReleased.
    mutating func timedOutAfterCharge(_ orderId: String, customer: String = "C-00002", lines: [Line], total: Int64) {
        place(orderId, customer: customer, lines: lines, total: total, status: .cancelled, reason: "timeout")
        emit(.stockReserved, orderId)
        emit(.paymentCharged, orderId)
        emit(.orderCancelled, orderId, cancelReason: "timeout")
        emit(.paymentRefunded, orderId)
        emit(.stockReleased, orderId)
        snapshot.reservations.append(.init(orderId: orderId, state: "RELEASED", lines: lines))
        snapshot.payments.append(.init(orderId: orderId, customerId: customer, state: "REFUNDED", netCharge: 0))
        notify(orderId, .orderCancelled)
    }

    /// Placed, and nothing happened since: the saga is stuck.
    mutating func stuck(_ orderId: String, customer: String = "C-00001", lines: [Line], total: Int64) {
        place(orderId, customer: customer, lines: lines, total: total, status: .pending)
    }

    /// The standard mix the audit tests start from.
    static func consistent() -> SagaWorld {
        var world = SagaWorld()
        world.confirmed("O-1", lines: [Line(sku: "SKU-0001", quantity: 2), Line(sku: "SKU-0002", quantity: 1)], total: 3000)
        world.confirmed("O-2", customer: "C-00002", lines: [Line(sku: "SKU-0002", quantity: 3)], total: 1500)
        world.outOfStock("O-3", lines: [Line(sku: "SKU-0001", quantity: 1), Line(sku: "SCARCE-01", quantity: 1)], total: 900)
        world.paymentFailed("O-4", lines: [Line(sku: "SKU-0001", quantity: 1)], total: 700)
        world.timedOutAfterCharge("O-5", lines: [Line(sku: "SKU-0002", quantity: 2)], total: 1200)
        return world
    }

    // MARK: - Building blocks

    private mutating func place(_ orderId: String, customer: String, lines: [Line], total: Int64,
                                status: OrderStatus, reason: String? = nil) {
        snapshot.orders.append(.init(orderId: orderId, customerId: customer, status: status, cancelReason: reason, total: total))
        snapshot.orderLines[orderId] = lines
        emit(.orderPlaced, orderId, lines: lines)
    }

    private mutating func notify(_ orderId: String, _ kind: NotificationKind) {
        emit(.notificationSent, orderId, notificationKind: kind)
        snapshot.notifications.append(.init(notificationId: "N-\(orderId)", orderId: orderId, kind: kind))
    }

    /// Appends a new event on its topic with the next offset and the order's next sequence.
    @discardableResult
    mutating func emit(_ type: EventType, _ orderId: String, lines: [Line]? = nil, cancelReason: String? = nil,
                       notificationKind: NotificationKind? = nil) -> AuditSnapshot.TopicRecord {
        eventCounter += 1
        let topic = type.topic.name
        let streamKey = "\(topic)/\(orderId)"
        let record = AuditSnapshot.TopicRecord(
            topic: topic, partition: 0, offset: nextOffset[topic, default: 0], orderId: orderId,
            eventId: "event-\(eventCounter)", eventType: type, sequence: nextSequence[streamKey, default: 0],
            lines: lines, cancelReason: cancelReason, notificationKind: notificationKind)
        nextOffset[topic, default: 0] += 1
        nextSequence[streamKey, default: 0] += 1
        snapshot.records.append(record)
        return record
    }

    /// Appends `record` again at the next offset of its topic (a relay publishing it twice).
    mutating func redeliver(_ record: AuditSnapshot.TopicRecord) {
        var copy = record
        copy.offset = nextOffset[record.topic, default: 0]
        nextOffset[record.topic, default: 0] += 1
        snapshot.records.append(copy)
    }

    mutating func adjustStock(_ sku: String, _ change: (inout AuditSnapshot.Stock) -> Void) {
        change(&snapshot.stock[snapshot.stock.firstIndex { $0.sku == sku }!])
    }

    mutating func adjustAccount(_ customer: String, _ change: (inout AuditSnapshot.Account) -> Void) {
        change(&snapshot.accounts[snapshot.accounts.firstIndex { $0.customerId == customer }!])
    }

    func records(_ type: EventType, of orderId: String) -> [AuditSnapshot.TopicRecord] {
        snapshot.records.filter { $0.eventType == type && $0.orderId == orderId }
    }

    mutating func updateRecords(where match: (AuditSnapshot.TopicRecord) -> Bool, _ change: (inout AuditSnapshot.TopicRecord) -> Void) {
        for index in snapshot.records.indices where match(snapshot.records[index]) { change(&snapshot.records[index]) }
    }
}
