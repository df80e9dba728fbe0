import EventSchema
import OrderCore
import Testing

@Suite struct OrderDeciderTests {
    let pending = OrderRecord(orderId: Fixture.orderId, customerId: Fixture.customerId, lines: Fixture.lines,
                              total: Fixture.total, placedAtUnixMs: Fixture.placedAt, deadlineUnixMs: Fixture.deadline)
    let now: Int64 = 5_000

    func decide(_ order: OrderRecord?, _ event: SagaEvent) -> OrderDecision {
        OrderDecider.decide(order, on: event, now: now)
    }

    /// The record after `event`, asserting it was a PENDING → terminal transition with one terminal event.
    func end(_ event: SagaEvent, sourceLocation: SourceLocation = #_sourceLocation) throws -> OrderRecord {
        let t = try #require(decide(pending, event).transition, sourceLocation: sourceLocation)
        #expect(t.from == .pending, sourceLocation: sourceLocation)
        #expect(t.to.isConsistent, sourceLocation: sourceLocation)
        #expect(t.events == [t.to.terminalEvent!], sourceLocation: sourceLocation)
        return t.to
    }

    // MARK: PENDING → terminal

    @Test func paymentChargedConfirms() throws {
        let order = try end(Ev.charged())
        #expect(order.status == .confirmed && order.paymentId == "o1/charge" && order.closedAtUnixMs == now)
        guard case let .orderConfirmed(e) = order.terminalEvent else { Issue.record("not OrderConfirmed"); return }
        #expect(e.total == Fixture.total && e.paymentID == "o1/charge" && e.customerID == "c1" && e.confirmedAtUnixMs == now)
    }

    @Test func aChargeOfAnotherAmountIsRejectedAndTheOrderStaysPending() {
        #expect(decide(pending, Ev.charged(amount: eur(449))) == .rejected(.chargeDoesNotMatchTotal(total: Fixture.total, charged: eur(449))))
        let dollars = Saga_V1_Money(minorUnits: 450, currency: "USD")
        #expect(decide(pending, Ev.charged(amount: dollars)) == .rejected(.chargeDoesNotMatchTotal(total: Fixture.total, charged: dollars)))
    }

    @Test func stockRejectedCancelsOutOfStock() throws {
        for reason: Saga_V1_StockRejected.Reason in [.outOfStock, .unknownSku, .invalidOrder, .orderCancelled, .UNRECOGNIZED(9)] {
            let order = try end(Ev.rejected(Fixture.orderId, reason))
            #expect(order.cancelReason == .outOfStock)
        }
        guard case let .orderCancelled(e) = try end(Ev.rejected()).terminalEvent else { Issue.record("not OrderCancelled"); return }
        #expect(e.reason == .outOfStock && e.total == Fixture.total && e.cancelledAtUnixMs == now)
        #expect(e.detail == "out of stock: A (requested 2, available 1)")
    }

    @Test func paymentFailedCancelsWithThePaymentsReason() throws {
        for reason: Saga_V1_PaymentFailureReason in [.insufficientFunds, .customerBlocked, .unknownCustomer, .invalidAmount, .orderCancelled, .unspecified] {
            let order = try end(Ev.failed(Fixture.orderId, reason))
            #expect(order.cancelReason == .paymentFailed && order.paymentFailureReason == reason)
        }
        guard case let .orderCancelled(e) = try end(Ev.failed()).terminalEvent else { Issue.record("not OrderCancelled"); return }
        #expect(e.reason == .paymentFailed && e.paymentFailureReason == .insufficientFunds)
        #expect(e.detail == "payment failed: insufficient funds")
    }

    @Test func aPaymentRefusedForTheDeadlineCancelsAsTimeout() throws {
        let order = try end(Ev.failed(Fixture.orderId, .deadlinePassed))
        #expect(order.cancelReason == .timeout && order.paymentFailureReason == .deadlinePassed)
        #expect(try end(Ev.released(Fixture.orderId, .paymentFailed, payment: .deadlinePassed)).cancelReason == .timeout)
    }

    @Test func stockReleasedAfterAPaymentFailureCancelsToo() throws {
        let order = try end(Ev.released(Fixture.orderId, .paymentFailed, payment: .customerBlocked))
        #expect(order.cancelReason == .paymentFailed && order.paymentFailureReason == .customerBlocked)
    }

    @Test func stockReleasedForAnUnexpectedReasonStillCancels() throws {
        // The reservation is gone: the order could not complete.
        for reason: Saga_V1_StockReleased.Reason in [.orderCancelled, .unspecified, .UNRECOGNIZED(7)] {
            let order = try end(Ev.released(Fixture.orderId, reason))
            #expect(order.cancelReason == .unknown)
            guard case let .orderCancelled(e) = order.terminalEvent else { Issue.record("not OrderCancelled"); return }
            #expect(e.reason == .unspecified)
        }
    }

    // MARK: The sweeper

    @Test func theSweeperCancelsAPendingOrderOnceTheDeadlinePassed() throws {
        #expect(OrderDecider.timeout(pending, now: Fixture.deadline - 1)
            == .ignored(.deadlineNotReached(deadlineUnixMs: Fixture.deadline, nowUnixMs: Fixture.deadline - 1)))
        let t = try #require(OrderDecider.timeout(pending, now: Fixture.deadline).transition)
        #expect(t.from == .pending && t.to.status == .cancelled && t.to.cancelReason == .timeout)
        guard case let .orderCancelled(e) = t.events.first, t.events.count == 1 else { Issue.record("not OrderCancelled"); return }
        #expect(e.reason == .timeout && e.cancelledAtUnixMs == Fixture.deadline)
        #expect(OrderDecider.timeout(t.to, now: Fixture.deadline + 1) == .ignored(.alreadyTerminal(.cancelled)))
    }

    @Test func aChargeAfterTheDeadlineButBeforeTheSweeperConfirms() throws {
        let t = try #require(OrderDecider.decide(pending, on: Ev.charged(), now: Fixture.deadline + 10).transition)
        #expect(t.to.status == .confirmed)
        #expect(OrderDecider.timeout(t.to, now: Fixture.deadline + 20) == .ignored(.alreadyTerminal(.confirmed)))
    }

    // MARK: Late, duplicate and irrelevant events

    @Test func terminalOrdersNeverChange() throws {
        let terminal = [
            try end(Ev.charged()), try end(Ev.rejected()), try end(Ev.failed()),
            try #require(OrderDecider.timeout(pending, now: Fixture.deadline).transition).to,
        ]
        for order in terminal {
            for event in Ev.all() {
                guard case .ignored = decide(order, event) else {
                    Issue.record("\(order.status)/\(order.cancelReason.map(\.rawValue) ?? "-") changed on \(event.eventType)")
                    continue
                }
            }
        }
    }

    @Test func aChargeAfterATimeoutIsLateAndTheOrderStaysCancelled() throws {
        let timedOut = try #require(OrderDecider.timeout(pending, now: Fixture.deadline).transition).to
        #expect(decide(timedOut, Ev.charged()) == .ignored(.lateAfterTerminal(.paymentCharged, status: .cancelled)))
    }

    @Test func theSameDecisiveEventAgainIsADuplicate() throws {
        #expect(decide(try end(Ev.charged()), Ev.charged()) == .ignored(.duplicate(.paymentCharged, status: .confirmed)))
        #expect(decide(try end(Ev.rejected()), Ev.rejected()) == .ignored(.duplicate(.stockRejected, status: .cancelled)))
        // PaymentFailed and StockReleased(PAYMENT_FAILED) carry the same news: whichever comes second is a duplicate.
        #expect(decide(try end(Ev.failed()), Ev.released()) == .ignored(.duplicate(.stockReleased, status: .cancelled)))
        #expect(decide(try end(Ev.released()), Ev.failed()) == .ignored(.duplicate(.paymentFailed, status: .cancelled)))
    }

    @Test func aContradictingEventAfterTheEndIsLate() throws {
        #expect(decide(try end(Ev.charged()), Ev.failed()) == .ignored(.lateAfterTerminal(.paymentFailed, status: .confirmed)))
        #expect(decide(try end(Ev.charged()), Ev.rejected()) == .ignored(.lateAfterTerminal(.stockRejected, status: .confirmed)))
        #expect(decide(try end(Ev.rejected()), Ev.charged()) == .ignored(.lateAfterTerminal(.paymentCharged, status: .cancelled)))
        // Inventory's answer to our own OrderCancelled.
        #expect(decide(try end(Ev.failed()), Ev.released(Fixture.orderId, .orderCancelled))
            == .ignored(.lateAfterTerminal(.stockReleased, status: .cancelled)))
    }

    @Test func eventsTheOrderServiceDoesNotActOnAreIgnored() {
        for event in [Ev.placed(), Ev.confirmed(), Ev.cancelled(), Ev.reserved(), Ev.refunded(), Ev.notificationSent()] {
            #expect(decide(pending, event) == .ignored(.notHandled(event.eventType)))
        }
    }

    @Test func eventsForUnknownOrMismatchedOrdersAreRejected() {
        #expect(decide(nil, Ev.charged()) == .rejected(.unknownOrder(orderId: "o1")))
        #expect(decide(pending, Ev.charged("o2")) == .rejected(.orderIdMismatch(record: "o1", event: "o2")))
    }
}
