import Logging

/// Where the drain asks about an order the topics did not finish.
protocol OrderEndLookup: Sendable {
    /// The order's end if it has one, and whether it was notified.
    func end(of orderId: String) async throws -> (outcome: Outcome?, notified: Bool)
}

extension StateReader: OrderEndLookup {
    func end(of orderId: String) async throws -> (outcome: Outcome?, notified: Bool) {
        let order = try await order(orderId)
        guard let status = OrderStatus(rawValue: order.status) else {
            throw HTTPFailure(description: "order \(orderId) has status '\(order.status)', not one of openapi.yaml's")
        }
        let outcome: Outcome? = switch status {
        case .pending: nil
        case .confirmed: .confirmed
        case .cancelled: .cancelled(reason: order.cancelReason)
        }
        guard outcome != nil else { return (nil, false) }
        return (outcome, !(try await notifications(of: orderId)).isEmpty)
    }
}

/// After the last send, waits (at most `timeout`) until every accepted order is terminal and
/// notified. The followed topics do the work; when they bring nothing new for `quietPeriod`
/// (the follower may have missed events, or stopped), the remaining orders are looked up
/// through the HTTP API.
struct Drainer: Sendable {
    let tracker: OrderTracker
    let lookup: any OrderEndLookup
    let clock: any LoadClock
    let timeout: Duration
    let logger: Logger
    var quietPeriod: Duration = .seconds(3)
    var pollInterval: Duration = .milliseconds(200)
    /// Orders looked up per quiet period, and at once.
    var lookupBatch = 500
    var lookupConcurrency = 16

    /// The orders still unfinished when the drain gave up (empty: all done).
    func drain() async -> [String] {
        let deadline = clock.now() + timeout
        var lastCount = Int.max
        var lastChange = clock.now()
        while true {
            let unfinished = await tracker.unfinishedOrderIds()
            let now = clock.now()
            if unfinished.isEmpty || now >= deadline { return unfinished }
            if unfinished.count != lastCount {
                lastCount = unfinished.count
                lastChange = now
            } else if now - lastChange >= quietPeriod {
                logger.notice("no progress on the topics for \(quietPeriod); asking the services about \(min(unfinished.count, lookupBatch)) of \(unfinished.count) unfinished orders")
                await lookUp(Array(unfinished.prefix(lookupBatch)))
                lastChange = clock.now()
            }
            do { try await clock.sleep(until: min(deadline, now + pollInterval)) } catch { return unfinished }
        }
    }

    private func lookUp(_ orderIds: [String]) async {
        for start in stride(from: 0, to: orderIds.count, by: lookupConcurrency) {
            await withTaskGroup(of: Void.self) { group in
                for orderId in orderIds[start..<min(start + lookupConcurrency, orderIds.count)] {
                    group.addTask {
                        do {
                            let (outcome, notified) = try await lookup.end(of: orderId)
                            await tracker.resolvedByAPI(orderId: orderId, outcome: outcome, notified: notified, at: clock.now())
                        } catch {
                            logger.warning("cannot look up order \(orderId): \(error)")
                        }
                    }
                }
            }
        }
    }
}
