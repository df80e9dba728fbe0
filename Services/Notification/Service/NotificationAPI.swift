import Hummingbird
import Persistence
import ServiceKit

/// GET /notifications (one order's, or all paged) and GET /notifications/stream (Services/API.md).
struct NotificationAPI: Sendable {
    let database: any SQLDatabase
    let broadcaster: NotificationBroadcaster

    func add(to router: Router<BasicRequestContext>) {
        router.get("/notifications/stream") { _, _ in NotificationStream.response(broadcaster) }
        router.get("/notifications") { request, _ in
            if let orderId = request.uri.queryParameters.get("orderId") {
                guard !orderId.isEmpty else { throw Problem.badRequest("orderId must not be empty") }
                let rows = try await database.read { try NotificationStore.forOrder(orderId, on: $0) }
                return try JSONResponse.make(NotificationItems(items: rows.map(NotificationView.init)))
            }
            let page = try PageRequest(request)
            let rows = try await database.read { try NotificationStore.page(after: page.after, limit: page.limit + 1, on: $0) }
            return try JSONResponse.make(Page(items: rows.map(NotificationView.init), limit: page.limit, id: \.notificationId))
        }
    }
}
