import EventSchema
import Foundation

/// What the console knows of one order from the topics: enough to find it (customer, state,
/// time) and to know where its records are, so its page reads a few offsets, not whole logs.
struct OrderEntry: Sendable {
    enum State: String, Sendable, CaseIterable {
        case pending = "PENDING", confirmed = "CONFIRMED", cancelled = "CANCELLED"
    }

    /// Where an order's records are in its home partition of one topic.
    struct Span: Sendable, Equatable {
        var partition: Int32
        var first: Int64
        var last: Int64
    }

    let orderId: String
    var customerId = ""
    var state = State.pending
    var cancelReason: String?
    var placedAtMs: Int64?
    var closedAtMs: Int64?
    var total: Saga_V1_Money?
    var notified = false
    var deadLetters = 0
    /// Per topic (`SagaIndex.topics` order).
    var spans: [Span?] = Array(repeating: nil, count: SagaIndex.topics.count)

    init(orderId: String) { self.orderId = orderId }

    mutating func record(topicIndex: Int, partition: Int32, offset: Int64) {
        if var span = spans[topicIndex] {
            span.first = min(span.first, offset)
            span.last = max(span.last, offset)
            spans[topicIndex] = span
        } else {
            spans[topicIndex] = Span(partition: partition, first: offset, last: offset)
        }
    }

    /// Applies a saga event of this order.
    mutating func apply(_ event: SagaEvent) {
        switch event {
        case .orderPlaced(let placed):
            customerId = placed.customerID
            placedAtMs = placed.placedAtUnixMs
            total = placed.hasTotal ? placed.total : nil
        case .orderConfirmed(let confirmed):
            customerId = confirmed.customerID.isEmpty ? customerId : confirmed.customerID
            state = .confirmed
            closedAtMs = confirmed.confirmedAtUnixMs
        case .orderCancelled(let cancelled):
            customerId = cancelled.customerID.isEmpty ? customerId : cancelled.customerID
            state = .cancelled
            cancelReason = Self.reasonText(cancelled.reason)
            closedAtMs = cancelled.cancelledAtUnixMs
        case .notificationSent:
            notified = true
        default:
            break
        }
    }

    static func reasonText(_ reason: Saga_V1_OrderCancelled.Reason) -> String {
        let names = [1: "out_of_stock", 2: "payment_failed", 3: "timeout"]
        return names[reason.rawValue] ?? "unknown"
    }

    var totalText: String {
        guard let total else { return "" }
        return String(format: "%.2f %@", Double(total.minorUnits) / 100, total.currency)
    }
}
