import EventSchema
import Logging
import Messaging
import OrderCore
import Persistence

/// Cancels PENDING orders whose saga deadline passed (reason `timeout`), so an order never
/// stays PENDING because a service or the broker stalled. Each cancellation is a conditional
/// update: if a decisive event ended the order first, the sweeper's write matches no row.
struct DeadlineSweeper: Sendable {
    let database: any SQLDatabase
    let relay: OutboxRelay
    let logger: Logger
    var batchSize = 200

    /// One round; returns how many orders it cancelled.
    @discardableResult
    func sweep() async throws -> Int {
        let now = EventEnvelope.nowUnixMs()
        let limit = batchSize
        let cancelled = try await database.unitOfWork(waking: relay) { unit -> [String] in
            let due = try unit.connection.query(
                "SELECT * FROM orders WHERE status = ? AND deadline_ms <= ? ORDER BY deadline_ms LIMIT ?",
                [.text(OrderStatus.pending.rawValue), .integer(now), .integer(Int64(limit))]).map(OrderStore.record)
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
