import EventSchema
import OrderCore
import ServiceKit

/// An order as GET /orders/{id} and POST /orders answer it.
struct OrderView: Codable, Sendable {
    struct HistoryEntry: Codable, Sendable {
        var topic: String
        var eventType: String
        var eventId: String
        var sequence: Int64
        var at: Int64
    }

    var orderId: String
    var customerId: String
    var status: String
    var cancelReason: String?
    var detail: String
    var total: MoneyJSON
    var lines: [LineJSON]
    var placedAt: Int64
    var deadline: Int64
    var closedAt: Int64?
    var history: [HistoryEntry]?

    init(_ order: OrderRecord, history: [HistoryEntry]?) {
        orderId = order.orderId
        customerId = order.customerId
        status = order.status.rawValue
        cancelReason = order.cancelReason?.rawValue
        detail = order.detail
        total = MoneyJSON(order.total)
        lines = order.lines.map { LineJSON($0) }
        placedAt = order.placedAtUnixMs
        deadline = order.deadlineUnixMs
        closedAt = order.closedAtUnixMs
        self.history = history
    }
}

/// One entry of GET /orders (the audit's listing).
struct OrderSummary: Codable, Sendable {
    var orderId: String
    var customerId: String
    var status: String
    var cancelReason: String?
    var total: MoneyJSON
    var lines: [LineJSON]
}
