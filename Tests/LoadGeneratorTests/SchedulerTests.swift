import Testing
@testable import LoadGenerator

@Suite("Open-model scheduler", .timeLimit(.minutes(1)))
struct SchedulerTests {
    let pools = SeedPools(SeedGenerator.make(SeedParameters(skus: 5, customers: 5)))

    func planner() -> OrderPlanner {
        OrderPlanner(pools: pools, mix: ScenarioMix(outOfStock: 0, paymentFailure: 0, blocked: 0, idempotentRetry: 0),
                     maxLines: 2, randomSeed: 7)
    }

    @Test("intended times are start + i / rate, computed without drift")
    func intendedTimes() {
        let scheduler = OpenLoopScheduler(rate: 4, count: 10)
        #expect(scheduler.intendedOffset(of: 0) == .zero)
        #expect(scheduler.intendedOffset(of: 7) == .milliseconds(1750))
        #expect(OpenLoopScheduler(rate: 3, count: 1).intendedOffset(of: 3_000_000) == .seconds(1_000_000))
        #expect(OpenLoopScheduler.count(rate: 50, duration: .seconds(2)) == 100)
        #expect(OpenLoopScheduler.count(rate: 3, duration: .milliseconds(1100)) == 4)
    }

    @Test("a stalled server does not delay later sends, and latency counts from the intended time")
    func slowServerDoesNotCoordinate() async throws {
        let clock = ManualClock()
        let service = FakeOrderService(clock: clock, holding: true)
        let tracker = OrderTracker()
        let sender = OrderSender(api: service, tracker: tracker, clock: clock)
        let planner = planner()
        let run = Task {
            await OpenLoopScheduler(rate: 10, count: 5).run(clock: clock, start: .zero) { arrival in
                await sender.send(planner.order(arrival.index), arrival: arrival)
            }
        }
        await service.waitForRequests(1)
        for k in 1...4 {
            // Nothing has been answered, yet request k leaves on time.
            clock.advance(to: .milliseconds(100 * k))
            await service.waitForRequests(k + 1)
        }
        let sentAt = await service.requests.map(\.at)
        #expect(sentAt == (0..<5).map { .milliseconds(100 * $0) })

        // The server answers everything at t = 1 s: order i waited 1 s − i × 100 ms.
        clock.advance(to: .seconds(1))
        await service.releaseAll()
        await run.value
        for k in 0..<5 {
            let trace = try #require(await tracker.trace("order-\(k)"))
            #expect(trace.intended == .milliseconds(100 * k))
            #expect(trace.acceptedAt == .seconds(1))
        }
        let accepted = await tracker.result().latencies.accepted
        #expect(accepted.count == 5)
        #expect(near(accepted.max, 1000))
        #expect(near(accepted.p50, 800))
    }

    @Test("when the generator falls behind it sends the late orders at once and counts the lateness")
    func lateSendsKeepTheirIntendedTime() async throws {
        let clock = ManualClock()
        let service = FakeOrderService(clock: clock, holding: false)
        let tracker = OrderTracker()
        let sender = OrderSender(api: service, tracker: tracker, clock: clock)
        let planner = planner()
        let run = Task {
            await OpenLoopScheduler(rate: 100, count: 10).run(clock: clock, start: .zero) { arrival in
                await sender.send(planner.order(arrival.index), arrival: arrival)
            }
        }
        await service.waitForRequests(1)
        clock.advance(to: .milliseconds(500)) // the generator was stalled for half a second
        await run.value

        let requests = await service.requests
        #expect(requests.count == 10)
        #expect(requests.dropFirst().allSatisfy { $0.at == .milliseconds(500) })
        var intended: [Duration] = []
        for request in requests {
            let trace = try #require(await tracker.trace(request.orderId))
            intended.append(trace.intended)
            #expect(trace.acceptedAt - trace.intended == (trace.intended == .zero ? .zero : .milliseconds(500) - trace.intended))
        }
        #expect(intended.sorted() == (0..<10).map { .milliseconds(10 * $0) })
    }

    @Test("a stop request ends the sending but not the requests in flight")
    func stopsOnRequest() async {
        let clock = ManualClock()
        let service = FakeOrderService(clock: clock, holding: false)
        let tracker = OrderTracker()
        let sender = OrderSender(api: service, tracker: tracker, clock: clock)
        let planner = planner()
        let run = Task {
            await OpenLoopScheduler(rate: 10, count: 100).run(clock: clock, start: .zero,
                                                               shouldStop: { clock.now() >= .milliseconds(300) }) { arrival in
                await sender.send(planner.order(arrival.index), arrival: arrival)
            }
        }
        await service.waitForRequests(1)
        clock.advance(to: .milliseconds(250))
        await service.waitForRequests(3)
        clock.advance(to: .seconds(10))
        await run.value
        #expect(await service.requests.count == 3)
        #expect(await tracker.result().counts.sent == 3)
    }

    @Test("an idempotent retry posts the same body with the same key and must get the same order")
    func idempotentRetry() async throws {
        let clock = ManualClock()
        let service = FakeOrderService(clock: clock, holding: false)
        let tracker = OrderTracker()
        let sender = OrderSender(api: service, tracker: tracker, clock: clock)
        let planner = OrderPlanner(pools: pools, mix: ScenarioMix(outOfStock: 0, paymentFailure: 0, blocked: 0, idempotentRetry: 1),
                                   maxLines: 2, randomSeed: 7)
        let order = planner.order(0)
        #expect(order.scenario == .idempotentRetry)
        await sender.send(order, arrival: Arrival(index: 0, intended: .zero))
        let requests = await service.requests
        #expect(requests.count == 2)
        #expect(requests[0].request == requests[1].request)
        #expect(requests[0].idempotencyKey != nil && requests[0].idempotencyKey == requests[1].idempotencyKey)
        let counts = await tracker.result().counts
        #expect(counts.accepted == 1 && counts.idempotentRetries == 1 && counts.idempotencyMismatches == 0)
    }
}
