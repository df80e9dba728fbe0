import EventSchema
import Foundation
import Logging
import Messaging
import OrderCore
import Persistence
import ServiceKit

/// Cancels PENDING orders whose saga deadline passed (reason `timeout`), so an order never
/// stays PENDING because a service or the broker stalled. Each cancellation is a conditional
/// update: if a decisive event ended the order first, the sweeper's write matches no row.
///
/// The one clock that decides a deadline is the database's (`databaseTimeMillis`): PostgreSQL's
/// for every Order instance sharing it, the process's own on SQLite. Deadlines are written by
/// the same clock (POST /orders), so an instance whose wall clock is off changes nothing.
///
/// The OrderCancelled continues the order's saga: its correlation id and, through a span
/// `order deadline` (while tracing), the order's trace, both stored with the order.
struct DeadlineSweeper: Sendable {
    let database: any SQLDatabase
    let relay: OutboxRelay
    let logger: Logger
    var batchSize = 200

    /// One round; returns how many orders it cancelled.
    @discardableResult
    func sweep() async throws -> Int {
        let limit = batchSize
        let cancelled = try await database.unitOfWork(waking: relay) { unit -> [(String, EventEnvelope?)] in
            let now = try unit.connection.databaseTimeMillis()
            var sagas: [String: EventCause] = [:]
            let dueIds = try OrderStore.due(now: now, limit: limit, on: unit.connection).compactMap { due -> String? in
                guard let orderId = due.orderId else { return nil }
                sagas[orderId] = due.saga
                return orderId
            }
            guard !dueIds.isEmpty else { return [] }
            // The orders' sequence rows first, sorted, as the consumer's batches take them: the
            // per-order lock order every writer of an order follows (no deadlock with a batch).
            try unit.lockOrders(dueIds, on: [TopicCatalog.orders.name])
            var ended: [(String, EventEnvelope?)] = []
            for orderId in dueIds {
                let saga = sagas[orderId]
                let span = MessageTracing.span("order deadline", continuing: saga?.traceparent,
                                               attributes: ["saga.order_id": orderId])
                defer { span?.end() }
                let cause = saga?.continuing(span.flatMap(MessageTracing.traceparent(of:)))
                if case .applied(_, let envelopes) = try TransitionWriter.write(OrderStep(orderId: orderId, input: .deadline(now: now)),
                                                                              causedBy: cause, unit: unit) {
                    ended.append((orderId, envelopes.first))
                }
            }
            return ended
        }
        for (orderId, envelope) in cancelled {
            var metadata: Logger.Metadata = ["order-id": "\(orderId)"]
            if let envelope {
                metadata["event-id"] = "\(envelope.eventId.uuidString.lowercased())"
                metadata["correlation-id"] = "\(envelope.correlationId.uuidString.lowercased())"
                if let ids = envelope.traceparent.flatMap(MessageTracing.ids(of:)) {
                    metadata["trace-id"] = "\(ids.traceId)"
                    metadata["span-id"] = "\(ids.spanId)"
                }
            }
            logger.notice("order cancelled: saga deadline passed", metadata: metadata)
        }
        return cancelled.count
    }
}
