import Hummingbird
import InventoryCore
import Persistence
import ServiceKit
import SagaAPI

/// GET /stock, /stock/{sku}, /reservations, /reservations/{orderId} (Services/API.md).
///
/// Stock levels and the reservation listing are for operators and the auditor (sales figures);
/// a customer may read the reservation of its own order (another's answers 404).
struct InventoryAPI: Sendable {
    let database: any SQLDatabase

    func add(to routes: EdgeRoutes) {
        routes.get("/stock", .staff) { _, _, _ in
            let items = try await database.read { try InventoryStore.stockViews(on: $0) }
            return try JSONResponse.make(Items(items))
        }
        routes.get("/stock/:sku", .staff) { _, context, _ in
            let sku = context.parameters.get("sku") ?? ""
            guard let item = try await database.read({ try InventoryStore.stockView(sku, on: $0) }) else {
                throw Problem.notFound("no SKU \(sku)")
            }
            return try JSONResponse.make(item)
        }
        routes.get("/reservations", .staff) { request, _, _ in
            let page = try PageRequest(request)
            let items = try await database.read { connection in
                try InventoryStore.reservationPage(after: page.after ?? "", limit: page.limit + 1, on: connection).map(ReservationView.init)
            }
            return try JSONResponse.make(Page(items: items, limit: page.limit, id: \.orderId))
        }
        routes.get("/reservations/:orderId", .requires(.customer, .operator, .auditor)) { _, context, caller in
            let orderId = context.parameters.get("orderId") ?? ""
            guard let record = try await database.read({ try InventoryStore.reservation(orderId, on: $0) }),
                  caller.mayRead(customer: record.customerId) else {
                throw Problem.notFound("no reservation for order \(orderId)")
            }
            return try JSONResponse.make(ReservationView(record))
        }
    }
}

extension ReservationView {
    init(_ record: ReservationRecord) {
        self.init(orderId: record.orderId, customerId: record.customerId, state: record.state.rawValue,
                  lines: record.lines.map { Line($0, withPrice: false) }, updatedAt: record.updatedAtUnixMs)
    }
}
