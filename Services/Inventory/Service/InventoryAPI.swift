import Hummingbird
import InventoryCore
import Persistence
import ServiceKit

/// GET /stock, /stock/{sku}, /reservations, /reservations/{orderId} (Services/API.md).
struct InventoryAPI: Sendable {
    let database: any SQLDatabase

    struct StockView: Codable, Sendable {
        var sku: String
        var initial: Int64
        var available: Int64
        var reserved: Int64
        var sold: Int64

        init(_ row: SQLRow) {
            sku = row.string("sku") ?? ""
            initial = row.int("initial") ?? 0
            available = row.int("available") ?? 0
            reserved = row.int("reserved") ?? 0
            sold = row.int("sold") ?? 0
        }
    }

    struct ReservationView: Codable, Sendable {
        var orderId: String
        var customerId: String
        var state: String
        var lines: [LineJSON]
        var updatedAt: Int64

        init(_ record: ReservationRecord) {
            orderId = record.orderId
            customerId = record.customerId
            state = record.state.rawValue
            lines = record.lines.map { LineJSON($0, withPrice: false) }
            updatedAt = record.updatedAtUnixMs
        }
    }

    func add(to router: Router<BasicRequestContext>) {
        router.get("/stock") { _, _ in
            let items = try await database.read { try $0.query("SELECT * FROM stock ORDER BY sku").map(StockView.init) }
            return try JSONResponse.make(["items": items])
        }
        router.get("/stock/:sku") { _, context in
            let sku = context.parameters.get("sku") ?? ""
            guard let item = try await database.read({ try $0.query("SELECT * FROM stock WHERE sku = ?", [.text(sku)]).first.map(StockView.init) }) else {
                throw Problem.notFound("no SKU \(sku)")
            }
            return try JSONResponse.make(item)
        }
        router.get("/reservations") { request, _ in
            let page = try PageRequest(request)
            let items = try await database.read { connection in
                try connection.query("SELECT * FROM reservations WHERE order_id > ? ORDER BY order_id LIMIT ?",
                                     [.text(page.after ?? ""), .integer(Int64(page.limit + 1))])
                    .map { ReservationView(try InventoryStore.reservation($0)) }
            }
            return try JSONResponse.make(Page(items: items, limit: page.limit, id: \.orderId))
        }
        router.get("/reservations/:orderId") { _, context in
            let orderId = context.parameters.get("orderId") ?? ""
            guard let record = try await database.read({ try InventoryStore.reservation(orderId, on: $0) }) else {
                throw Problem.notFound("no reservation for order \(orderId)")
            }
            return try JSONResponse.make(ReservationView(record))
        }
    }
}
