import Foundation
import SagaAPI

/// Reads the services' state through their paged listings (Services/API.md).
struct StateReader: Sendable {
    let http: ServiceHTTPClient
    let urls: ServiceURLs
    static let pageSize = 5000

    /// Every item of a listing, following `next` until it is null.
    func all<Item: Codable & Sendable>(_ base: String, _ path: String, as: Item.Type) async throws -> [Item] {
        var items: [Item] = []
        var after: String?
        repeat {
            var url = "\(base)\(path)?limit=\(Self.pageSize)"
            if let after { url += "&after=\(Self.encode(after))" }
            let page = try await http.get(url, as: Page<Item>.self)
            items += page.items
            if let next = page.next, next == after {
                throw HTTPFailure(description: "GET \(base)\(path) returned the same next cursor '\(after ?? "")' twice; the listing does not advance")
            }
            after = page.items.isEmpty ? nil : page.next
        } while after != nil
        return items
    }

    func orders() async throws -> [AuditSnapshot.Order] {
        try await all(urls.order, "/orders", as: OrderSummary.self).map {
            guard let status = OrderStatus(rawValue: $0.status) else {
                throw HTTPFailure(description: "GET \(urls.order)/orders: order \($0.orderId) has status '\($0.status)', not one of openapi.yaml's")
            }
            return AuditSnapshot.Order(orderId: $0.orderId, customerId: $0.customerId, status: status,
                                       cancelReason: $0.cancelReason, total: $0.total.minorUnits)
        }
    }

    func order(_ orderId: String) async throws -> OrderView {
        try await http.get("\(urls.order)/orders/\(Self.encode(orderId))", as: OrderView.self)
    }

    func stock() async throws -> [AuditSnapshot.Stock] {
        try await all(urls.inventory, "/stock", as: StockView.self)
    }

    func reservations() async throws -> [AuditSnapshot.Reservation] {
        try await all(urls.inventory, "/reservations", as: ReservationView.self).map {
            AuditSnapshot.Reservation(orderId: $0.orderId, state: $0.state,
                                      lines: $0.lines.map { AuditSnapshot.Line(sku: $0.sku, quantity: Int64($0.quantity)) })
        }
    }

    func payments() async throws -> [AuditSnapshot.Payment] {
        try await all(urls.payment, "/payments", as: PaymentView.self).map {
            AuditSnapshot.Payment(orderId: $0.orderId, customerId: $0.customerId, state: $0.state, netCharge: $0.netCharge)
        }
    }

    func accounts() async throws -> [AuditSnapshot.Account] {
        try await all(urls.payment, "/accounts", as: AccountView.self).map {
            AuditSnapshot.Account(customerId: $0.customerId, initialBalance: $0.initialBalance, balance: $0.balance)
        }
    }

    func notifications() async throws -> [AuditSnapshot.Notification] {
        try await all(urls.notification, "/notifications", as: NotificationView.self).map(Self.notification)
    }

    func notifications(of orderId: String) async throws -> [AuditSnapshot.Notification] {
        try await http.get("\(urls.notification)/notifications?orderId=\(Self.encode(orderId))",
                           as: Items<NotificationView>.self).items.map(Self.notification)
    }

    private static func notification(_ item: NotificationView) -> AuditSnapshot.Notification {
        AuditSnapshot.Notification(notificationId: item.notificationId, orderId: item.orderId, kind: NotificationKind(rawValue: item.kind))
    }

    private static let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))

    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
