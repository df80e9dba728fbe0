import Hummingbird
import Persistence
import ServiceKit
import SagaAPI

/// GET /notifications (one order's, or all paged) and GET /notifications/stream (Services/API.md).
///
/// A customer sees, and is streamed, its own notifications only; operators and the auditor all.
struct NotificationAPI: Sendable {
    let database: any SQLDatabase
    let broadcaster: NotificationBroadcaster

    func add(to routes: EdgeRoutes) {
        routes.get("/notifications/stream", .requires(.customer, .operator, .auditor)) { _, _, caller in
            try NotificationStream.response(broadcaster, customer: caller.listingScope)
        }
        routes.get("/notifications", .requires(.customer, .operator, .auditor)) { request, _, caller in
            if let orderId = request.uri.queryParameters.get("orderId") {
                guard !orderId.isEmpty else { throw Problem.badRequest("orderId must not be empty") }
                let rows = try await database.read { try NotificationStore.forOrder(orderId, on: $0) }
                    .filter { caller.mayRead(customer: $0.record.customerId) }
                return try JSONResponse.make(Items(rows.map(NotificationView.init)))
            }
            let page = try PageRequest(request)
            let rows = try await database.read {
                try NotificationStore.page(after: page.after, limit: page.limit + 1, customer: caller.listingScope, on: $0)
            }
            return try JSONResponse.make(Page(items: rows.map(NotificationView.init), limit: page.limit, id: \.notificationId))
        }
    }
}
