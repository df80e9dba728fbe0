import EventSchema

/// Invariant 4: at most one reservation, one charge and one refund per order (distinct
/// event-ids on the topics), and exactly one notification of the right kind per terminal
/// order, both on notifications.v1 and in the Notification service.
enum OncePerOrderCheck {
    static let atMostOnce: [EventType] = [.stockReserved, .paymentCharged, .paymentRefunded]

    static func run(_ snapshot: AuditSnapshot, _ index: AuditIndex) -> InvariantResult {
        var result = InvariantResult(number: 4, title: "per order: at most one StockReserved, PaymentCharged, PaymentRefunded; exactly one notification of the right kind when terminal",
                                     checkedWhat: "orders")
        let orderIds = Set(index.recordsByOrder.keys).union(index.ordersById.keys).sorted()
        result.checked = orderIds.count

        for orderId in orderIds {
            for type in atMostOnce {
                let events = index.distinctEvents(type, of: orderId)
                if events.count > 1 {
                    result.violation("order \(orderId) has \(events.count) \(type) events with different event-ids: \(events.map(\.eventId).joined(separator: ", "))")
                }
            }
        }

        let notificationsByOrder = Dictionary(grouping: snapshot.notifications, by: \.orderId)
        for order in snapshot.orders {
            let stored = notificationsByOrder[order.orderId] ?? []
            guard let kind = NotificationKind(for: order.status) else {
                if !stored.isEmpty { result.violation("order \(order.orderId) is PENDING but was notified \(stored.count) time(s)") }
                continue
            }
            let sent = index.distinctEvents(.notificationSent, of: order.orderId)
            if sent.isEmpty, index.recordsMayBeGone(on: TopicCatalog.notifications.name, of: order.orderId) {
                result.notCheckable("\(TopicCatalog.notifications.name) lost its oldest records to retention before the audit read them, and with them perhaps these orders' NotificationSent")
            } else if sent.count != 1 {
                result.violation("order \(order.orderId) is \(order.status.rawValue) and has \(sent.count) NotificationSent (distinct event-ids) on notifications.v1, expected 1")
            } else if sent[0].notificationKind != kind {
                result.violation("order \(order.orderId) is \(order.status.rawValue) but its NotificationSent is \(sent[0].notificationKind?.rawValue ?? "of no known kind"), expected \(kind.rawValue)")
            }
            if stored.count != 1 {
                result.violation("order \(order.orderId) is \(order.status.rawValue) and has \(stored.count) notifications in GET /notifications, expected 1")
            } else if stored[0].kind != kind {
                result.violation("order \(order.orderId) is \(order.status.rawValue) but its notification is \(stored[0].kind?.rawValue ?? "of an unknown kind"), expected \(kind.rawValue)")
            }
        }
        for orderId in notificationsByOrder.keys.sorted() where index.ordersById[orderId] == nil {
            result.violation("notification for order \(orderId), which GET /orders does not list")
        }
        return result
    }
}
