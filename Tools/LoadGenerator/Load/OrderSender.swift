/// Sends one planned order and tells the tracker what came back. The latency of the 202
/// counts from the arrival's intended time, so time spent waiting for a connection or for the
/// generator itself is in it.
struct OrderSender: Sendable {
    let api: any OrderPlacing
    let tracker: OrderTracker
    let clock: any LoadClock

    func send(_ order: PlannedOrder, arrival: Arrival) async {
        let issuedAt = clock.now()
        await tracker.requestIssued(order.scenario, at: issuedAt)
        let result = await api.place(order.request, idempotencyKey: order.idempotencyKey)
        let answeredAt = clock.now()
        switch result {
        case .accepted(let orderId, _):
            await tracker.accepted(orderId: orderId, scenario: order.scenario, intended: arrival.intended, at: answeredAt)
            if let key = order.idempotencyKey {
                let retriedAt = clock.now()
                switch await retry(order, key: key, expecting: orderId) {
                case .same: await tracker.idempotentRetry(mismatch: nil)
                case .mismatch(let text): await tracker.idempotentRetry(mismatch: text)
                // No answer proves nothing about idempotency: count it with the other failures.
                case .noAnswer(let text): await tracker.failed(text)
                // Nor does a server error: it is judged with the other 5xx answers.
                case .serverError(let status, let detail):
                    await tracker.serverError(status: status, issuedAt: retriedAt, answeredAt: clock.now(),
                                              detail: "idempotent retry with key \(key): \(detail)")
                // Nor does a refusal at the edge: counted with the other rejected requests.
                case .refused(let status, let detail):
                    await tracker.rejected(status: status, detail: "idempotent retry with key \(key): \(detail)")
                }
            }
        case .rejected(let status, let detail) where status >= 500:
            await tracker.serverError(status: status, issuedAt: issuedAt, answeredAt: answeredAt, detail: detail)
        case .rejected(let status, let detail):
            await tracker.rejected(status: status, detail: detail)
        case .failed(let message):
            await tracker.failed(message)
        }
        await tracker.requestAnswered()
    }

    enum RetryResult {
        case same
        case mismatch(String)
        case noAnswer(String)
        case serverError(Int, String)
        /// The edge refused the retry before its key was looked at: a token it did not accept
        /// (a clock fault makes a good token look not yet valid) or the caller's rate.
        case refused(Int, String)
    }

    /// Answers given before the Idempotency-Key is read; any other 4xx to a retry of the same
    /// body (a 409 above all) says the key was not honoured.
    static let refusedBeforeTheKey: Set<Int> = [401, 429]

    /// Posts the same body with the same key again, as a client that lost the first answer would.
    private func retry(_ order: PlannedOrder, key: String, expecting orderId: String) async -> RetryResult {
        switch await api.place(order.request, idempotencyKey: key) {
        case .accepted(let again, _) where again == orderId:
            return .same
        case .accepted(let again, _):
            return .mismatch("idempotent retry with key \(key) created order \(again), expected \(orderId)")
        case .rejected(let status, let detail) where status >= 500:
            return .serverError(status, detail)
        case .rejected(let status, let detail) where Self.refusedBeforeTheKey.contains(status):
            return .refused(status, detail)
        case .rejected(let status, let detail):
            return .mismatch("idempotent retry with key \(key) answered \(status), expected 202 with \(orderId): \(detail)")
        case .failed(let message):
            return .noAnswer("idempotent retry with key \(key) failed: \(message)")
        }
    }
}
