import EventSchema

/// Invariant 1: every accepted order ends CONFIRMED or CANCELLED, and orders.v1 carries
/// exactly one terminal event for it, the one matching its status.
enum TerminalCheck {
    static func run(_ snapshot: AuditSnapshot, _ index: AuditIndex) -> InvariantResult {
        var result = InvariantResult(number: 1, title: "every order ends CONFIRMED or CANCELLED, with exactly one matching terminal event",
                                     checkedWhat: "orders")
        result.checked = snapshot.orders.count
        for order in snapshot.orders {
            guard order.status.isTerminal else {
                result.stuck += 1
                result.violation("order \(order.orderId) is still PENDING")
                continue
            }
            let confirmed = index.distinctEvents(.orderConfirmed, of: order.orderId)
            let cancelled = index.distinctEvents(.orderCancelled, of: order.orderId)
            if confirmed.isEmpty, cancelled.isEmpty, index.recordsMayBeGone(on: TopicCatalog.orders.name, of: order.orderId) {
                result.notCheckable("\(TopicCatalog.orders.name) lost its oldest records to retention before the audit read them, and with them perhaps these orders' terminal events")
                continue
            }
            guard confirmed.count + cancelled.count == 1 else {
                result.violation("order \(order.orderId) is \(order.status.rawValue) but orders.v1 has \(confirmed.count) OrderConfirmed and \(cancelled.count) OrderCancelled (distinct event-ids), expected exactly one terminal event")
                continue
            }
            switch (order.status, cancelled.first) {
            case (.confirmed, .some):
                result.violation("order \(order.orderId) is CONFIRMED but orders.v1 says OrderCancelled")
            case (.cancelled, .none):
                result.violation("order \(order.orderId) is CANCELLED but orders.v1 says OrderConfirmed")
            case (.cancelled, .some(let event)) where event.cancelReason != nil && order.cancelReason != nil && event.cancelReason != order.cancelReason:
                result.violation("order \(order.orderId) is CANCELLED \(order.cancelReason!) but its OrderCancelled says \(event.cancelReason!)")
            default:
                break
            }
        }
        if let accepted = snapshot.acceptedOrderIds {
            for orderId in accepted.sorted() where index.ordersById[orderId] == nil {
                result.violation("order \(orderId) was accepted (HTTP 202) but GET /orders does not list it")
            }
        }
        var placedUnknown = Set<String>()
        for record in snapshot.records where record.eventType == .orderPlaced && index.ordersById[record.orderId] == nil {
            if placedUnknown.insert(record.orderId).inserted {
                result.violation("order \(record.orderId) was placed on orders.v1 but GET /orders does not list it (topics older than the Order database? restart the dev cluster with the services)")
            }
        }
        return result
    }
}
