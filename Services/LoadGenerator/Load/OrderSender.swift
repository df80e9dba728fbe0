/// Sends one planned order and tells the tracker what came back. The latency of the 202
/// counts from the arrival's intended time, so time spent waiting for a connection or for the
/// generator itself is in it.
struct OrderSender: Sendable {
    let api: any OrderPlacing
    let tracker: OrderTracker
    let clock: any LoadClock

    func send(_ order: PlannedOrder, arrival: Arrival) async {
        await tracker.requestIssued(order.scenario, at: clock.now())
        let result = await api.place(order.request, idempotencyKey: order.idempotencyKey)
        let answeredAt = clock.now()
        switch result {
        case .accepted(let orderId, _):
            await tracker.accepted(orderId: orderId, scenario: order.scenario, intended: arrival.intended, at: answeredAt)
            if let key = order.idempotencyKey {
                await tracker.idempotentRetry(mismatch: await retry(order, key: key, expecting: orderId))
            }
        case .rejected(let status, let detail):
            await tracker.rejected(status: status, detail: detail)
        case .failed(let message):
            await tracker.failed(message)
        }
        await tracker.requestAnswered()
    }

    /// Posts the same body with the same key again, as a client that lost the first answer
    /// would; nil when the service answered with the same order.
    private func retry(_ order: PlannedOrder, key: String, expecting orderId: String) async -> String? {
        switch await api.place(order.request, idempotencyKey: key) {
        case .accepted(let again, _) where again == orderId:
            return nil
        case .accepted(let again, _):
            return "idempotent retry with key \(key) created order \(again), expected \(orderId)"
        case .rejected(let status, let detail):
            return "idempotent retry with key \(key) answered \(status), expected 202 with \(orderId): \(detail)"
        case .failed(let message):
            return "idempotent retry with key \(key) failed: \(message)"
        }
    }
}
