import EventSchema
import Foundation
import Hummingbird
import Messaging
import OrderCore
import Persistence
import ServiceKit

/// POST /orders, GET /orders/{id}, GET /orders (Services/API.md).
struct OrderAPI: Sendable {
    let database: any SQLDatabase
    let relay: OutboxRelay
    let prices: PriceList
    let policy: OrderPolicy

    static let maxIdempotencyKeyLength = 200

    func add(to router: Router<BasicRequestContext>) {
        router.post("/orders") { request, _ in try await place(request) }
        router.get("/orders/:id") { _, context in
            let orderId = context.parameters.get("id") ?? ""
            let view = try await database.read { connection -> OrderView? in
                guard let order = try OrderStore.load(orderId, on: connection) else { return nil }
                return OrderView(order, history: try OrderStore.history(orderId, on: connection))
            }
            guard let view else { throw Problem.notFound("no order \(orderId)") }
            return try JSONResponse.make(view)
        }
        router.get("/orders") { request, _ in
            let page = try PageRequest(request)
            let rows = try await database.read { connection in
                try connection.query("SELECT * FROM orders WHERE order_id > ? ORDER BY order_id LIMIT ?",
                                     [.text(page.after ?? ""), .integer(Int64(page.limit + 1))]).map(OrderStore.record)
            }
            let items = rows.map {
                OrderSummary(orderId: $0.orderId, customerId: $0.customerId, status: $0.status.rawValue,
                             cancelReason: $0.cancelReason?.rawValue, total: MoneyJSON($0.total), lines: $0.lines.map { LineJSON($0) })
            }
            return try JSONResponse.make(Page(items: items, limit: page.limit, id: \.orderId))
        }
    }

    private enum Placement: Sendable {
        case created(OrderRecord)
        case replayed(OrderRecord)
    }

    private func place(_ request: Request) async throws -> Response {
        let key = try idempotencyKey(request)
        let body = try await PlaceOrderBody.parse(request)
        let command = body.command(orderId: UUID().uuidString.lowercased())
        // Validation first, outside any transaction; the order is timed inside it.
        if case .failure(let failure) = OrderDecider.place(command, prices: prices, policy: policy, now: 0) {
            throw failure.problem
        }
        let placement: Placement
        do {
            placement = try await write(command, key: key, fingerprint: body.fingerprint)
        } catch let error as SQLError where key != nil {
            // Two requests with one new key at once (PostgreSQL): the loser's insert of the key
            // fails; by now the winner's row is committed, so answer from it.
            guard let replay = try await replayed(key: key!, fingerprint: body.fingerprint) else { throw error }
            placement = .replayed(replay)
        }
        switch placement {
        case .created(let order):
            return try JSONResponse.make(OrderView(order, history: nil), status: .accepted,
                                         headers: [.location: "/orders/\(order.orderId)"])
        case .replayed(let order):
            var headers: HTTPFields = [.location: "/orders/\(order.orderId)"]
            headers[HeaderNames.idempotentReplayed] = "true"
            return try JSONResponse.make(OrderView(order, history: nil), status: .accepted, headers: headers)
        }
    }

    /// One transaction: the key (if any), the PENDING order and its OrderPlaced in the outbox.
    /// Placed-at and deadline come from the database's clock, the one the sweeper decides by.
    private func write(_ command: PlaceOrder, key: String?, fingerprint: String) async throws -> Placement {
        let (prices, policy) = (prices, policy)
        return try await database.unitOfWork(waking: relay) { unit -> Placement in
            if let key, let existing = try Self.existing(key: key, fingerprint: fingerprint, on: unit.connection) {
                return .replayed(existing)
            }
            let transition = try OrderDecider.place(command, prices: prices, policy: policy,
                                                    now: try unit.connection.databaseTimeMillis()).mapError(\.problem).get()
            _ = try OrderTransitionWriter.apply(transition, causedBy: nil, unit: unit)
            if let key {
                _ = try unit.connection.execute(
                    "INSERT INTO idempotency_keys (idempotency_key, request_fingerprint, order_id, created_at_ms) VALUES (?, ?, ?, ?)",
                    [.text(key), .text(fingerprint), .text(transition.to.orderId), .integer(EventEnvelope.nowUnixMs())])
            }
            return .created(transition.to)
        }
    }

    private func replayed(key: String, fingerprint: String) async throws -> OrderRecord? {
        try await database.read { try Self.existing(key: key, fingerprint: fingerprint, on: $0) }
    }

    /// The order stored for `key`; a conflict if the key was used for a different order.
    private static func existing(key: String, fingerprint: String, on connection: any SQLConnection) throws -> OrderRecord? {
        guard let row = try connection.query(
            "SELECT request_fingerprint, order_id FROM idempotency_keys WHERE idempotency_key = ?", [.text(key)]).first else { return nil }
        guard row.string("request_fingerprint") == fingerprint else {
            throw Problem.conflict("Idempotency-Key \(key) was already used for a different order (\(row.string("order_id") ?? "?")); use a new key for a new order")
        }
        guard let orderId = row.string("order_id"), let order = try OrderStore.load(orderId, on: connection) else {
            throw SQLError.permanent("idempotency key \(key) points to a missing order")
        }
        return order
    }

    private func idempotencyKey(_ request: Request) throws -> String? {
        guard let key = request.headers[HeaderNames.idempotencyKey] else { return nil }
        guard !key.isEmpty, key.count <= Self.maxIdempotencyKeyLength,
              key.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7F }) else {
            throw Problem.badRequest("Idempotency-Key must be 1...\(Self.maxIdempotencyKeyLength) visible ASCII characters")
        }
        return key
    }
}
