import EventSchema
import PaymentCore
import Testing

@Suite struct PaymentDeciderTests {
    let account = Account(customerId: Fixture.customerId, currency: "EUR", balance: 1_000)
    let now: Int64 = 3_000

    func decide(_ p: PaymentRecord?, _ event: SagaEvent, account: Account?? = nil) -> PaymentDecision {
        PaymentDecider.decide(p, account: account ?? self.account, on: event, now: now)
    }

    func record(_ state: PaymentState) -> PaymentRecord {
        PaymentRecord(orderId: Fixture.orderId, customerId: Fixture.customerId, state: state,
                      amount: state == .cancelled ? nil : Fixture.total,
                      paymentId: [.charged, .refunded].contains(state) ? "o1/charge" : nil, updatedAtUnixMs: 2_500)
    }

    func failure(_ decision: PaymentDecision) -> Saga_V1_PaymentFailureReason? {
        guard let t = decision.transition, t.to.state == .failed, t.movements.isEmpty,
              case let .paymentFailed(e)? = t.events.first else { return nil }
        #expect(e.reason == t.to.failureReason && e.amount == t.to.amount && e.failedAtUnixMs == now)
        return e.reason
    }

    // MARK: none → CHARGED / FAILED

    @Test func stockReservedChargesTheOrderTotal() throws {
        let t = try #require(decide(nil, Ev.reserved()).transition)
        #expect(t.from == nil && t.to.state == .charged && t.to.amount == Fixture.total && t.to.paymentId == "o1/charge")
        #expect(t.movements == [AccountMovement(customerId: "c1", kind: .charge, amount: 450)])
        guard case let .paymentCharged(e) = t.events.first, t.events.count == 1 else { Issue.record("\(t.events)"); return }
        #expect(e.amount == Fixture.total && e.paymentID == "o1/charge" && e.customerID == "c1" && e.chargedAtUnixMs == now)
        #expect(account.applying(t.movements[0])?.balance == 550)
        #expect(t.to.netCharge == 450)
    }

    @Test func chargesTheWholeBalanceButNotACentMore() {
        #expect(decide(nil, Ev.reserved(), account: Account(customerId: "c1", currency: "EUR", balance: 450)).transition?.to.state == .charged)
        #expect(failure(decide(nil, Ev.reserved(), account: Account(customerId: "c1", currency: "EUR", balance: 449))) == .insufficientFunds)
    }

    @Test func refusesWithAReason() {
        #expect(failure(decide(nil, Ev.reserved(), account: .some(nil))) == .unknownCustomer)
        #expect(failure(decide(nil, Ev.reserved(), account: Account(customerId: "c1", currency: "EUR", balance: 0, blocked: true))) == .customerBlocked)
        #expect(failure(decide(nil, Ev.reserved(amount: Saga_V1_Money(minorUnits: 450, currency: "USD")))) == .invalidAmount)
        #expect(failure(decide(nil, Ev.reserved(amount: eur(-1)))) == .invalidAmount)
        #expect(failure(decide(nil, Ev.reserved(amount: nil))) == .invalidAmount)
    }

    /// Exactly one clock decides a deadline: Order's. The event's deadline compared with
    /// Payment's own wall clock (minutes off, on another machine) refuses nothing; a charge that
    /// lands after Order cancelled is refunded on the OrderCancelled that follows.
    @Test func aDeadlinePastByPaymentsClockStillCharges() {
        #expect(decide(nil, Ev.reserved(deadline: now - 600_000)).transition?.to.state == .charged)
        #expect(decide(nil, Ev.reserved(deadline: now)).transition?.to.state == .charged)
        #expect(decide(nil, Ev.reserved(deadline: 0)).transition?.to.state == .charged, "no deadline from an older producer")
    }

    @Test func aBlockedCustomerIsRefusedBeforeTheOtherChecks() {
        let blockedAndBroke = Account(customerId: "c1", currency: "EUR", balance: 0, blocked: true)
        #expect(failure(decide(nil, Ev.reserved(deadline: now), account: blockedAndBroke)) == .customerBlocked)
    }

    // MARK: CHARGED → REFUNDED

    @Test func orderCancelledRefundsACharge() throws {
        let t = try #require(decide(record(.charged), Ev.cancelled()).transition)
        #expect(t.from == .charged && t.to.state == .refunded && t.to.refundId == "o1/refund" && t.to.netCharge == 0)
        #expect(t.movements == [AccountMovement(customerId: "c1", kind: .refund, amount: 450)])
        guard case let .paymentRefunded(e) = t.events.first, t.events.count == 1 else { Issue.record("\(t.events)"); return }
        #expect(e.amount == Fixture.total && e.paymentID == "o1/charge" && e.refundID == "o1/refund" && e.reason == .orderCancelled)
    }

    @Test func aBlockedCustomerStillGetsTheRefund() {
        let blocked = Account(customerId: "c1", currency: "EUR", balance: 0, blocked: true)
        #expect(decide(record(.charged), Ev.cancelled(), account: blocked).transition?.to.state == .refunded)
        #expect(blocked.applying(AccountMovement(customerId: "c1", kind: .refund, amount: 450))?.balance == 450)
    }

    // MARK: OrderCancelled before StockReserved

    @Test func aCancellationBeforeTheChargeLeavesATombstone() throws {
        let t = try #require(decide(nil, Ev.cancelled()).transition)
        #expect(t.from == nil && t.to.state == .cancelled && t.movements.isEmpty && t.events.isEmpty)
        #expect(decide(t.to, Ev.cancelled()) == .ignored(.nothingCharged(.orderCancelled, state: .cancelled)))
    }

    @Test func aLateStockReservedAfterTheTombstoneIsAnsweredWithoutACharge() throws {
        let d = decide(record(.cancelled), Ev.reserved())
        #expect(failure(d) == .orderCancelled)
        #expect(d.transition?.from == .cancelled)
        #expect(decide(d.transition!.to, Ev.reserved()) == .ignored(.duplicate(.stockReserved, state: .failed)))
    }

    // MARK: Duplicates

    @Test func stockReservedAgainIsADuplicate() {
        for state: PaymentState in [.charged, .failed, .refunded] {
            #expect(decide(record(state), Ev.reserved()) == .ignored(.duplicate(.stockReserved, state: state)))
        }
    }

    @Test func orderCancelledAgainChangesNothing() {
        #expect(decide(record(.refunded), Ev.cancelled()) == .ignored(.duplicate(.orderCancelled, state: .refunded)))
        #expect(decide(record(.failed), Ev.cancelled()) == .ignored(.nothingCharged(.orderCancelled, state: .failed)))
    }

    // MARK: Other events and caller bugs

    @Test func otherEventsAreIgnored() {
        for event in [Ev.placed(), Ev.confirmed(), Ev.rejected(), Ev.released(), Ev.charged(), Ev.failed(), Ev.refunded(), Ev.notificationSent()] {
            #expect(decide(record(.charged), event) == .ignored(.notHandled(event.eventType)))
        }
    }

    @Test func wrongRecordsAndAccountsAreRejected() {
        #expect(decide(record(.charged), Ev.cancelled("o2")) == .rejected(.orderIdMismatch(record: "o1", event: "o2")))
        #expect(decide(record(.charged), Ev.cancelled(), account: .some(nil)) == .rejected(.accountMissing(customerId: "c1")))
        let other = Account(customerId: "c2", currency: "EUR", balance: 1_000)
        #expect(decide(record(.charged), Ev.cancelled(), account: other) == .rejected(.accountMismatch(expected: "c1", found: "c2")))
        #expect(decide(nil, Ev.reserved(), account: other) == .rejected(.accountMismatch(expected: "c1", found: "c2")))
    }
}
