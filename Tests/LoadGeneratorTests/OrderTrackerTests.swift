import Testing
@testable import LoadGenerator

@Suite("Following orders to their end")
struct OrderTrackerTests {
    func event(_ orderId: String, _ kind: FollowedEvent.Kind, id: String = "e1") -> FollowedEvent {
        FollowedEvent(orderId: orderId, eventId: id, kind: kind)
    }

    @Test("latencies count from the intended time; accepted→confirmed from the 202")
    func latencies() async {
        let tracker = OrderTracker()
        await tracker.requestIssued(.normal, at: .milliseconds(100))
        await tracker.accepted(orderId: "A", scenario: .normal, intended: .milliseconds(100), at: .milliseconds(130))
        await tracker.observe(event("A", .confirmed), at: .milliseconds(400))
        await tracker.observe(event("A", .notified(.orderConfirmed), id: "n1"), at: .milliseconds(600))
        let result = await tracker.result()
        #expect(near(result.latencies.accepted.max, 30))
        #expect(near(result.latencies.confirmed.max, 300))
        #expect(near(result.latencies.acceptedToConfirmed.max, 270))
        #expect(near(result.latencies.notified.max, 500))
        #expect(result.unfinished == 0)
        #expect(await tracker.unfinishedOrderIds().isEmpty)
    }

    @Test("an event that overtakes its 202 is kept until the order is known")
    func earlyEvent() async throws {
        let tracker = OrderTracker()
        await tracker.observe(event("A", .cancelled(reason: "out_of_stock")), at: .milliseconds(50))
        #expect(await tracker.result().counts.cancelled.isEmpty)
        await tracker.accepted(orderId: "A", scenario: .outOfStock, intended: .zero, at: .milliseconds(80))
        let trace = try #require(await tracker.trace("A"))
        #expect(trace.outcome == .cancelled(reason: "out_of_stock"))
        let result = await tracker.result()
        #expect(result.counts.cancelled == ["out_of_stock": 1])
        #expect(near(result.latencies.cancelled.max, 50))
        #expect(result.scenarios.first { $0.scenario == .outOfStock }?.matched == 1)
    }

    @Test("a redelivered terminal event is ignored, a second distinct one is counted")
    func duplicates() async {
        let tracker = OrderTracker()
        await tracker.accepted(orderId: "A", scenario: .normal, intended: .zero, at: .zero)
        await tracker.observe(event("A", .confirmed, id: "e1"), at: .seconds(1))
        await tracker.observe(event("A", .confirmed, id: "e1"), at: .seconds(2))
        #expect(await tracker.result().counts.conflictingTerminalEvents == 0)
        await tracker.observe(event("A", .cancelled(reason: "timeout"), id: "e2"), at: .seconds(3))
        let counts = await tracker.result().counts
        #expect(counts.conflictingTerminalEvents == 1)
        #expect(counts.confirmed == 1 && counts.cancelled.isEmpty)
    }

    @Test("an order that ends differently than its scenario expects is a scenario mismatch")
    func scenarioMismatch() async throws {
        let tracker = OrderTracker()
        await tracker.requestIssued(.paymentFailure, at: .zero)
        await tracker.accepted(orderId: "A", scenario: .paymentFailure, intended: .zero, at: .zero)
        await tracker.observe(event("A", .confirmed), at: .seconds(1))
        await tracker.requestIssued(.normal, at: .zero)
        await tracker.accepted(orderId: "B", scenario: .normal, intended: .zero, at: .zero)
        let result = await tracker.result()
        let failure = try #require(result.scenarios.first { $0.scenario == .paymentFailure })
        #expect(failure.sent == 1 && failure.mismatched == 1 && failure.matched == 0)
        #expect(failure.examples == ["A: expected CANCELLED payment_failed, got CONFIRMED"])
        #expect(result.scenarios.first { $0.scenario == .normal }?.unfinished == 1)
        #expect(result.unfinished == 2) // A is confirmed but not notified; B has not ended
    }

    @Test("the drain's fallback to the HTTP API finishes orders without recording a latency")
    func resolvedByAPI() async {
        let tracker = OrderTracker()
        await tracker.accepted(orderId: "A", scenario: .normal, intended: .zero, at: .zero)
        #expect(await tracker.unfinishedOrderIds() == ["A"])
        await tracker.resolvedByAPI(orderId: "A", outcome: .confirmed, notified: true, at: .seconds(9))
        let result = await tracker.result()
        #expect(result.unfinished == 0)
        #expect(result.counts.resolvedByAPI == 1 && result.counts.confirmed == 1 && result.counts.notified == 1)
        #expect(result.latencies.confirmed.count == 0)
        let life = await tracker.lives().first
        #expect(life?.endedAt == .seconds(9) && life?.outcome == .confirmed, "the time of the lookup bounds the end")
    }

    @Test("a retry refused at the edge (401, 429) is a rejected request; a 409 to the same body is a mismatch")
    func retryRefusedAtTheEdge() async {
        struct RefusesRetries: OrderPlacing {
            let retryStatus: Int
            let calls = Calls()
            final class Calls: @unchecked Sendable { var count = 0 }
            func place(_ order: OrderRequest, idempotencyKey: String?) async -> PlaceOrderResult {
                calls.count += 1
                return calls.count == 1 ? .accepted(orderId: "first", replayed: false)
                                        : .rejected(status: retryStatus, detail: "refused")
            }
        }
        let request = OrderRequest(customerId: "C-00001", currency: "EUR", lines: [.init(sku: "SKU-0001", quantity: 1)])
        for (status, mismatches) in [(401, 0), (429, 0), (409, 1), (422, 1)] {
            let tracker = OrderTracker()
            let sender = OrderSender(api: RefusesRetries(retryStatus: status), tracker: tracker, clock: ManualClock())
            await sender.send(PlannedOrder(scenario: .idempotentRetry, request: request, idempotencyKey: "k"),
                              arrival: Arrival(index: 0, intended: .zero))
            let result = await tracker.result()
            #expect(result.counts.idempotencyMismatches == mismatches, "\(status)")
            #expect(result.counts.rejected[String(status), default: 0] == 1 - mismatches, "\(status)")
            #expect(result.counts.errors == 1, "\(status): either way the retry is an error of the run")
        }
    }

    @Test("HTTP errors and idempotency mismatches count as errors")
    func errors() async {
        struct Inconsistent: OrderPlacing {
            func place(_ order: OrderRequest, idempotencyKey: String?) async -> PlaceOrderResult {
                .accepted(orderId: "order-\(Int.random(in: 0..<Int.max))", replayed: false)
            }
        }
        let tracker = OrderTracker()
        let sender = OrderSender(api: Inconsistent(), tracker: tracker, clock: ManualClock())
        let request = OrderRequest(customerId: "C-00001", currency: "EUR", lines: [.init(sku: "SKU-0001", quantity: 1)])
        await sender.send(PlannedOrder(scenario: .idempotentRetry, request: request, idempotencyKey: "k"), arrival: Arrival(index: 0, intended: .zero))
        await tracker.rejected(status: 422, detail: "unknown SKU")
        await tracker.failed("connection refused")
        let result = await tracker.result()
        #expect(result.counts.idempotencyMismatches == 1)
        #expect(result.counts.errors == 3)
        #expect(result.errorExamples.count == 3)
    }
}
