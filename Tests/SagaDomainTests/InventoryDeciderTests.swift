import EventSchema
import InventoryCore
import Testing

@Suite struct InventoryDeciderTests {
    let stock: [String: StockLevel] = ["A": StockLevel(available: 5), "B": StockLevel(available: 1)]
    let now: Int64 = 2_000

    func decide(_ r: ReservationRecord?, _ event: SagaEvent, stock: [String: StockLevel]? = nil) -> InventoryDecision {
        InventoryDecider.decide(r, stock: stock ?? self.stock, on: event, now: now)
    }

    func record(_ state: ReservationState) -> ReservationRecord {
        ReservationRecord(orderId: Fixture.orderId, customerId: Fixture.customerId, state: state,
                          lines: state == .voided ? [] : Fixture.lines, updatedAtUnixMs: 1_500)
    }

    func rejection(_ decision: InventoryDecision) -> Saga_V1_StockRejected? {
        if case let .stockRejected(e)? = decision.transition?.events.first { e } else { nil }
    }

    // MARK: none → RESERVED / REJECTED

    @Test func reservesEveryLineAtOnce() throws {
        let t = try #require(decide(nil, Ev.placed()).transition)
        #expect(t.from == nil && t.to.state == .reserved && t.to.lines == Fixture.lines)
        #expect(t.movements == [StockMovement(sku: "A", quantity: 2, kind: .reserve), StockMovement(sku: "B", quantity: 1, kind: .reserve)])
        guard case let .stockReserved(e) = t.events.first, t.events.count == 1 else { Issue.record("\(t.events)"); return }
        #expect(e.orderID == "o1" && e.customerID == "c1" && e.lines == Fixture.lines)
        #expect(e.amount == Fixture.total && e.deadlineUnixMs == Fixture.deadline && e.reservedAtUnixMs == now)
        let after = try #require(stock.applying(t.movements))
        #expect(after["A"] == StockLevel(available: 3, reserved: 2) && after["B"] == StockLevel(available: 0, reserved: 1))
    }

    @Test func addsUpLinesOfTheSameSku() throws {
        let t = try #require(decide(nil, Ev.placed(lines: [line("A", 2, 100), line("A", 3, 100)])).transition)
        #expect(t.movements == [StockMovement(sku: "A", quantity: 5, kind: .reserve)])
        let short = decide(nil, Ev.placed(lines: [line("A", 3, 100), line("A", 3, 100)]))
        #expect(rejection(short)?.reason == .outOfStock)
        #expect(rejection(short)?.unavailable.map(\.requested) == [6])
    }

    @Test func rejectsTheWholeOrderIfAnyLineIsShort() throws {
        let d = decide(nil, Ev.placed(lines: [line("A", 5, 100), line("B", 2, 250)]))
        let t = try #require(d.transition)
        #expect(t.to.state == .rejected && t.movements.isEmpty)
        let e = try #require(rejection(d))
        #expect(e.reason == .outOfStock && e.customerID == "c1" && e.rejectedAtUnixMs == now)
        #expect(e.unavailable.map { [$0.sku, "\($0.requested)", "\($0.available)"] } == [["B", "2", "1"]])
    }

    @Test func rejectsUnknownSkusAndInvalidLines() {
        // Unknown SKUs mean the catalogs disagree: dead-lettered for an operator, not answered.
        let unknown = decide(nil, Ev.placed(lines: [line("A", 1, 100), line("Z", 1, 1)]))
        #expect(unknown == .rejected(.unknownSkus(orderId: Fixture.orderId, skus: ["Z"])))
        #expect(rejection(decide(nil, Ev.placed(lines: [line("A", 0, 100)])))?.reason == .invalidOrder)
        #expect(rejection(decide(nil, Ev.placed(lines: [line("", 1, 100)])))?.reason == .invalidOrder)
        #expect(rejection(decide(nil, Ev.placed(lines: [])))?.reason == .invalidOrder)
    }

    // MARK: RESERVED → SOLD / RELEASED

    @Test func orderConfirmedSellsTheReservation() throws {
        let t = try #require(decide(record(.reserved), Ev.confirmed()).transition)
        #expect(t.from == .reserved && t.to.state == .sold && t.events.isEmpty)
        #expect(t.movements == [StockMovement(sku: "A", quantity: 2, kind: .sell), StockMovement(sku: "B", quantity: 1, kind: .sell)])
    }

    @Test func paymentFailedReleasesTheReservation() throws {
        let t = try #require(decide(record(.reserved), Ev.failed(Fixture.orderId, .customerBlocked)).transition)
        #expect(t.from == .reserved && t.to.state == .released)
        #expect(t.movements == [StockMovement(sku: "A", quantity: 2, kind: .release), StockMovement(sku: "B", quantity: 1, kind: .release)])
        guard case let .stockReleased(e) = t.events.first, t.events.count == 1 else { Issue.record("\(t.events)"); return }
        #expect(e.reason == .paymentFailed && e.paymentFailureReason == .customerBlocked)
        #expect(e.lines == Fixture.lines && e.customerID == "c1" && e.releasedAtUnixMs == now)
    }

    @Test func orderCancelledReleasesTheReservation() throws {
        let t = try #require(decide(record(.reserved), Ev.cancelled()).transition)
        #expect(t.to.state == .released && t.movements.map(\.kind) == [.release, .release])
        guard case let .stockReleased(e) = t.events.first else { Issue.record("\(t.events)"); return }
        #expect(e.reason == .orderCancelled && e.paymentFailureReason == .unspecified)
    }

    // MARK: Duplicates and late events

    @Test func orderPlacedAgainIsADuplicateInEveryAnsweredState() {
        for state: ReservationState in [.reserved, .rejected, .sold, .released] {
            #expect(decide(record(state), Ev.placed()) == .ignored(.duplicate(.orderPlaced, state: state)))
        }
        #expect(decide(record(.sold), Ev.confirmed()) == .ignored(.duplicate(.orderConfirmed, state: .sold)))
    }

    @Test func aSecondReleaseFindsNothingHeld() {
        for state: ReservationState in [.released, .rejected, .voided] {
            #expect(decide(record(state), Ev.cancelled()) == .ignored(.nothingHeld(.orderCancelled, state: state)))
            #expect(decide(record(state), Ev.failed()) == .ignored(.nothingHeld(.paymentFailed, state: state)))
        }
    }

    // MARK: Cancellation before OrderPlaced

    @Test func aCancellationBeforeOrderPlacedLeavesATombstone() throws {
        for early in [Ev.cancelled(), Ev.failed()] {
            let t = try #require(decide(nil, early).transition)
            #expect(t.from == nil && t.to.state == .voided && t.movements.isEmpty && t.events.isEmpty)
            #expect(t.to.customerId == "c1")
        }
    }

    @Test func aLateOrderPlacedAfterTheTombstoneReservesNothing() throws {
        let d = decide(record(.voided), Ev.placed())
        let t = try #require(d.transition)
        #expect(t.from == .voided && t.to.state == .rejected && t.movements.isEmpty && t.to.lines == Fixture.lines)
        #expect(rejection(d)?.reason == .orderCancelled)
        #expect(decide(t.to, Ev.placed()) == .ignored(.duplicate(.orderPlaced, state: .rejected)))
    }

    // MARK: Contract violations and other events

    @Test func orderConfirmedWithoutALiveReservationIsRejected() {
        #expect(decide(nil, Ev.confirmed()) == .rejected(.confirmedWithoutReservation(orderId: "o1", state: nil)))
        for state: ReservationState in [.rejected, .released, .voided] {
            #expect(decide(record(state), Ev.confirmed()) == .rejected(.confirmedWithoutReservation(orderId: "o1", state: state)))
        }
    }

    @Test func aReleaseAfterTheSaleIsRejected() {
        #expect(decide(record(.sold), Ev.cancelled()) == .rejected(.releaseAfterSale(.orderCancelled, orderId: "o1")))
        #expect(decide(record(.sold), Ev.failed()) == .rejected(.releaseAfterSale(.paymentFailed, orderId: "o1")))
    }

    @Test func otherEventsAreIgnoredAndMismatchesRejected() {
        for event in [Ev.reserved(), Ev.rejected(), Ev.released(), Ev.charged(), Ev.refunded(), Ev.notificationSent()] {
            #expect(decide(record(.reserved), event) == .ignored(.notHandled(event.eventType)))
        }
        #expect(decide(record(.reserved), Ev.confirmed("o2")) == .rejected(.orderIdMismatch(record: "o1", event: "o2")))
    }
}
