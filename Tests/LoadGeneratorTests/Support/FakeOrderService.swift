@testable import LoadGenerator

/// Stands in for `POST /orders`: records when each request arrived (on the test's clock) and,
/// while `holding`, keeps every answer back until `releaseAll()`, like a stalled server.
actor FakeOrderService: OrderPlacing {
    struct Request: Sendable {
        let orderId: String
        let request: OrderRequest
        let idempotencyKey: String?
        let at: Duration
    }

    private let clock: ManualClock
    private let holding: Bool
    private(set) var requests: [Request] = []
    private var orderByKey: [String: String] = [:]
    private var held: [CheckedContinuation<Void, Never>] = []
    private var waiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []

    init(clock: ManualClock, holding: Bool) {
        self.clock = clock
        self.holding = holding
    }

    func place(_ order: OrderRequest, idempotencyKey: String?) async -> PlaceOrderResult {
        let replayed = idempotencyKey.flatMap { orderByKey[$0] }
        let orderId = replayed ?? "order-\(requests.count)"
        if let idempotencyKey { orderByKey[idempotencyKey] = orderId }
        requests.append(Request(orderId: orderId, request: order, idempotencyKey: idempotencyKey, at: clock.now()))
        let ready = waiters.filter { requests.count >= $0.count }
        waiters.removeAll { requests.count >= $0.count }
        ready.forEach { $0.continuation.resume() }
        if holding { await withCheckedContinuation { held.append($0) } }
        return .accepted(orderId: orderId, replayed: replayed != nil)
    }

    /// Returns once `count` requests have arrived (a synchronisation point, not a timer).
    func waitForRequests(_ count: Int) async {
        if requests.count >= count { return }
        await withCheckedContinuation { waiters.append((count, $0)) }
    }

    func releaseAll() {
        held.forEach { $0.resume() }
        held = []
    }
}
