import EventSchema
import Foundation
import Hummingbird
import Messaging
import OrderCore
import Persistence
import Credentials
import ServiceKit
import SagaAPI

/// POST /orders, GET /orders/{id}, GET /orders (Services/API.md).
///
/// A customer places orders for itself only and sees only its own (another's answers 404, as if
/// it did not exist); operators and the auditor see every order.
struct OrderAPI: Sendable {
    let database: any SQLDatabase
    /// Placements that arrive while one is being written share the next transaction.
    let placements: GroupCommit
    let prices: PriceList
    let policy: OrderPolicy
    let rateLimiter: RateLimiter

    static let maxIdempotencyKeyLength = 200

    func add(to routes: EdgeRoutes) {
        routes.post("/orders", .requires(.customer)) { request, _, caller in try await place(request, caller) }
        routes.get("/orders/:id", .requires(.customer, .operator, .auditor)) { _, context, caller in
            let orderId = context.parameters.get("id") ?? ""
            let view = try await database.read { connection -> OrderView? in
                guard let order = try OrderStore.load(orderId, on: connection), caller.mayRead(customer: order.customerId) else { return nil }
                return OrderView(order, history: try OrderStore.history(orderId, on: connection))
            }
            guard let view else { throw Problem.notFound("no order \(orderId)") }
            return try JSONResponse.make(view)
        }
        routes.get("/orders", .requires(.customer, .operator, .auditor)) { request, _, caller in
            let page = try PageRequest(request)
            let rows = try await database.read { connection in
                try OrderStore.page(after: page.after ?? "", limit: page.limit + 1, customer: caller.listingScope, on: connection)
            }
            let items = rows.map {
                OrderSummary(orderId: $0.orderId, customerId: $0.customerId, status: $0.status.rawValue,
                             cancelReason: $0.cancelReason?.rawValue, total: Money($0.total), lines: $0.lines.map { Line($0) })
            }
            return try JSONResponse.make(Page(items: items, limit: page.limit, id: \.orderId))
        }
    }

    private enum Placement: Sendable {
        case created(OrderRecord)
        case replayed(OrderRecord)
    }

    private func place(_ request: Request, _ caller: Caller) async throws -> Response {
        let principal = caller.principal.subject
        if let wait = rateLimiter.take(principal) {
            throw Problem.tooManyRequests(retryAfterSeconds: max(1, Int(wait.components.seconds) + (wait.components.attoseconds > 0 ? 1 : 0)))
        }
        let key = try idempotencyKey(request)
        let body = try await PlaceOrderBody.parse(request)
        guard body.customerId == caller.principal.customerId else {
            throw Problem.forbidden("a customer places orders for itself only: customerId must be \(principal), the customer of the token")
        }
        let command = body.command(orderId: UUID().uuidString.lowercased())
        // Validation first, outside any transaction; the order is timed inside it.
        if case .failure(let failure) = OrderDecider.place(command, prices: prices, policy: policy, now: 0) {
            throw failure.problem
        }
        let placement: Placement
        do {
            placement = try await write(command, principal: principal, key: key, fingerprint: body.fingerprint)
        } catch let error as SQLError where key != nil {
            // Two requests with one new key at once (PostgreSQL): the loser's insert of the key
            // fails; by now the winner's row is committed, so answer from it.
            guard let replay = try await replayed(principal: principal, key: key!, fingerprint: body.fingerprint) else { throw error }
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

    /// One unit of work: the key (if any), the PENDING order and its OrderPlaced in the outbox,
    /// committed with the placements that arrived meanwhile (`GroupCommit`; a conflict of one
    /// is written again alone). Placed-at and deadline come from the database's clock, the one
    /// the sweeper decides by.
    private func write(_ command: PlaceOrder, principal: String, key: String?, fingerprint: String) async throws -> Placement {
        let (prices, policy) = (prices, policy)
        return try await placements.write { unit -> Placement in
            // The key first: its row is claimed with the id of the order about to be placed,
            // and rolls back with it if the placement fails.
            if let key, try !IdempotencyKeyStore.claim(principal: principal, key: key, fingerprint: fingerprint,
                                                       orderId: command.orderId, on: unit.connection) {
                guard let existing = try Self.existing(principal: principal, key: key, fingerprint: fingerprint, on: unit.connection) else {
                    throw SQLError.transient("idempotency key \(key) was claimed and then not found")
                }
                return .replayed(existing)
            }
            // The order's id was drawn for this request: nothing has emitted for it yet.
            unit.startSequences(of: command.orderId, on: [TopicCatalog.orders.name])
            let step = OrderStep(orderId: command.orderId,
                                 input: .place(command, prices: prices, policy: policy, now: try unit.connection.databaseTimeMillis()))
            guard case .applied(let transition, _) = try TransitionWriter.write(step, causedBy: nil, unit: unit) else {
                throw SQLError.permanent("placing order \(command.orderId) wrote nothing")  // unreachable: a placement is a transition or a problem
            }
            return .created(transition.to)
        }
    }

    private func replayed(principal: String, key: String, fingerprint: String) async throws -> OrderRecord? {
        try await database.read { try Self.existing(principal: principal, key: key, fingerprint: fingerprint, on: $0) }
    }

    /// The order `principal` placed with `key`; a conflict if it used the key for a different
    /// order. Keys are the caller's own: another caller's use of the same key is not seen.
    private static func existing(principal: String, key: String, fingerprint: String, on connection: any SQLConnection) throws -> OrderRecord? {
        guard let entry = try IdempotencyKeyStore.find(principal: principal, key: key, on: connection) else { return nil }
        guard entry.fingerprint == fingerprint else {
            throw Problem.conflict("Idempotency-Key \(key) was already used for a different order; use a new key for a new order")
        }
        guard let orderId = entry.orderId, let order = try OrderStore.load(orderId, on: connection) else {
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
