import EventSchema
import Logging
import Messaging
import OrderCore
import Persistence

/// Cancels PENDING orders whose saga deadline passed (reason `timeout`), so an order never
/// stays PENDING because a service or the broker stalled. Each cancellation is a conditional
/// update: if a decisive event ended the order first, the sweeper's write matches no row.
///
/// The one clock that decides a deadline is the database's (`databaseTimeMillis`): PostgreSQL's
/// for every Order instance sharing it, the process's own on SQLite. Deadlines are written by
/// the same clock (POST /orders), so an instance whose wall clock is off changes nothing.
struct DeadlineSweeper: Sendable {
    let database: any SQLDatabase
    let relay: OutboxRelay
    let logger: Logger
    var batchSize = 200

    /// One round; returns how many orders it cancelled.
    @discardableResult
    func sweep() async throws -> Int {
        let limit = batchSize
        let cancelled = try await database.unitOfWork(waking: relay) { unit -> [String] in
            let now = try unit.connection.databaseTimeMillis()
            let dueIds = try unit.connection.query(
                "SELECT order_id FROM orders WHERE status = ? AND deadline_ms <= ? ORDER BY deadline_ms LIMIT ?",
                [.text(OrderStatus.pending.rawValue), .integer(now), .integer(Int64(limit))]).compactMap { $0.string("order_id") }
            guard !dueIds.isEmpty else { return [] }
            // The orders' sequence rows first, sorted, as the consumer's batches take them: the
            // per-order lock order every writer of an order follows (no deadlock with a batch).
            try unit.lockOrders(dueIds, on: [TopicCatalog.orders.name])
            let due = try dueIds.compactMap { try OrderStore.load($0, on: unit.connection) }
            var ended: [String] = []
            for order in due {
                guard case .transition(let transition) = OrderDecider.timeout(order, now: now) else { continue }
                if try OrderTransitionWriter.apply(transition, causedBy: nil, unit: unit) { ended.append(order.orderId) }
            }
            return ended
        }
        for orderId in cancelled {
            logger.notice("order cancelled: saga deadline passed", metadata: ["order-id": "\(orderId)"])
        }
        return cancelled.count
    }
}
