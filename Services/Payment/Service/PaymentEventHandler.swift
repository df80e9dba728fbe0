import Deciding
import EventSchema
import Messaging
import PaymentCore
import Persistence
import ServiceKit

/// What Payment does with inventory.v1 and orders.v1: charges once on StockReserved (or fails
/// with a reason), refunds once on OrderCancelled of a charged order, and never charges an
/// order it already saw cancelled. (The runtime hands it only `PaymentDecider.handledEvents`.)
enum PaymentEventHandler {
    static func handle(_ event: InboundEvent, _ unit: UnitOfWork) throws -> HandlerOutcome {
        try TransitionWriter.handle(event, with: PaymentStep(event: event.event), unit: unit)
    }

    /// Before any handler runs: reads the payments of the batch's orders, then the accounts they
    /// concern, sorted by customer across the whole batch and locked (PostgreSQL: two instances
    /// whose batches share customers queue on them in one order instead of deadlocking; SQLite
    /// has one writer), one statement each, and keeps both for the decisions. Payments are safe
    /// to keep: their writers take the order's sequence rows first.
    static func prepare(_ events: [InboundEvent], _ unit: UnitOfWork) throws {
        let orderIds = events.map(\.envelope.orderId)
        let payments = try PaymentStore.payments(orderIds, on: unit.connection)
        let customers = Set(events.compactMap { PaymentDecider.customerId(for: $0.event, payment: payments[$0.envelope.orderId]) })
        unit.preload(payments, for: orderIds)
        unit.preload(try PaymentStore.accounts(customers.sorted(), on: unit.connection), for: customers)
    }
}

/// Payment's part of the write path: an order's payment and the balance it moves.
struct PaymentStep: TransitionStep {
    let event: SagaEvent

    struct Loaded {
        var payment: PaymentRecord?
        var account: Account?
    }

    var subject: String { "payment of \(event.orderId)" }

    func load(on connection: any SQLConnection) throws -> Loaded {
        let payment = try PaymentStore.payment(event.orderId, on: connection)
        let account = try PaymentDecider.customerId(for: event, payment: payment).flatMap { try PaymentStore.account($0, on: connection) }
        return Loaded(payment: payment, account: account)
    }

    /// The batch's reading of the payment and of the account is taken by the first decision that
    /// needs it; an account an earlier event of the batch took (and maybe moved) is read again.
    func takePreloaded(from unit: UnitOfWork) throws -> Loaded? {
        guard let payment = unit.takePreloaded(PaymentRecord.self, for: event.orderId) else { return nil }
        guard let customer = PaymentDecider.customerId(for: event, payment: payment) else { return Loaded(payment: payment, account: nil) }
        let account = try unit.takePreloaded(Account.self, for: customer) ?? PaymentStore.account(customer, on: unit.connection)
        return Loaded(payment: payment, account: account)
    }

    func decide(_ loaded: Loaded) -> Decided<PaymentTransition> {
        PaymentDecider.decide(loaded.payment, account: loaded.account, on: event, now: EventEnvelope.nowUnixMs()).decided
    }

    func describe(_ loaded: Loaded) -> String {
        "payment \(loaded.payment?.state.rawValue ?? "none"), account \(loaded.account.map { "\($0.customerId) balance \($0.balance) blocked \($0.blocked)" } ?? "none")"
    }

    func write(_ transition: PaymentTransition, in unit: UnitOfWork) throws -> Bool {
        try PaymentStore.write(transition.to, from: transition.from, in: unit)
    }

    /// A payment moves one account per transition: one conditional update each.
    func move(_ movements: [AccountMovement], on connection: any SQLConnection) throws -> Bool {
        try movements.allSatisfy { try PaymentStore.apply($0, on: connection) }
    }
}
