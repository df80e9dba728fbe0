import OrderCore
import SagaAPI
import ServiceKit

extension OrderView {
    /// An order as GET /orders/{id} (with its history) and POST /orders (without) answer it.
    init(_ order: OrderRecord, history: [HistoryEntry]?) {
        self.init(orderId: order.orderId, customerId: order.customerId, status: order.status.rawValue,
                  cancelReason: order.cancelReason?.rawValue, detail: order.detail, total: Money(order.total),
                  lines: order.lines.map { Line($0) }, placedAt: order.placedAtUnixMs, deadline: order.deadlineUnixMs,
                  closedAt: order.closedAtUnixMs, history: history)
    }
}
