import Foundation

/// Reads the services' state through their paged listings (Services/API.md).
struct StateReader: Sendable {
    let http: ServiceHTTPClient
    let urls: ServiceURLs
    static let pageSize = 5000

    /// Every item of a listing, following `next` until it is null.
    func all<Item: Decodable & Sendable>(_ base: String, _ path: String, as: Item.Type) async throws -> [Item] {
        var items: [Item] = []
        var after: String?
        repeat {
            var url = "\(base)\(path)?limit=\(Self.pageSize)"
            if let after { url += "&after=\(Self.encode(after))" }
            let page = try await http.get(url, as: API.Page<Item>.self)
            items += page.items
            if let next = page.next, next == after {
                throw HTTPFailure(description: "GET \(base)\(path) returned the same next cursor '\(after ?? "")' twice; the listing does not advance")
            }
            after = page.items.isEmpty ? nil : page.next
        } while after != nil
        return items
    }

    func orders() async throws -> [AuditSnapshot.Order] {
        try await all(urls.order, "/orders", as: API.OrderItem.self).map {
            AuditSnapshot.Order(orderId: $0.orderId, customerId: $0.customerId, status: $0.status,
                                cancelReason: $0.cancelReason, total: $0.total.minorUnits)
        }
    }

    func order(_ orderId: String) async throws -> API.OrderDetail {
        try await http.get("\(urls.order)/orders/\(Self.encode(orderId))", as: API.OrderDetail.self)
    }

    func stock() async throws -> [AuditSnapshot.Stock] {
        try await all(urls.inventory, "/stock", as: API.StockItem.self).map {
            AuditSnapshot.Stock(sku: $0.sku, initial: $0.initial, available: $0.available, reserved: $0.reserved, sold: $0.sold)
        }
    }

    func reservations() async throws -> [AuditSnapshot.Reservation] {
        try await all(urls.inventory, "/reservations", as: API.ReservationItem.self).map {
            AuditSnapshot.Reservation(orderId: $0.orderId, state: $0.state,
                                      lines: $0.lines.map { AuditSnapshot.Line(sku: $0.sku, quantity: $0.quantity) })
        }
    }

    func payments() async throws -> [AuditSnapshot.Payment] {
        try await all(urls.payment, "/payments", as: API.PaymentItem.self).map {
            AuditSnapshot.Payment(orderId: $0.orderId, customerId: $0.customerId, state: $0.state,
                                  netCharge: $0.netCharge?.minorUnits ?? 0)
        }
    }

    func accounts() async throws -> [AuditSnapshot.Account] {
        try await all(urls.payment, "/accounts", as: API.AccountItem.self).map {
            AuditSnapshot.Account(customerId: $0.customerId, initialBalance: $0.initialBalance, balance: $0.balance)
        }
    }

    func notifications() async throws -> [AuditSnapshot.Notification] {
        try await all(urls.notification, "/notifications", as: API.NotificationItem.self).map(Self.notification)
    }

    func notifications(of orderId: String) async throws -> [AuditSnapshot.Notification] {
        try await http.get("\(urls.notification)/notifications?orderId=\(Self.encode(orderId))",
                           as: API.Page<API.NotificationItem>.self).items.map(Self.notification)
    }

    private static func notification(_ item: API.NotificationItem) -> AuditSnapshot.Notification {
        AuditSnapshot.Notification(notificationId: item.notificationId, orderId: item.orderId, kind: NotificationKind(rawValue: item.kind))
    }

    private static let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))

    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
