import EventSchema
import InventoryCore
import NotificationCore
import OrderCore
import PaymentCore

/// The invariants of ARCHITECTURE.md §4 (1–4), checked on a drained simulation,
/// plus: a confirmed order's stock and money were really taken, a cancelled
/// one's given back. Returns one line per violation.
extension SagaSimulation {
    func invariantViolations() -> [String] {
        var violations = problems
        func check(_ condition: Bool, _ message: @autoclosure () -> String) {
            if !condition { violations.append(message()) }
        }
        let emittedCount = Dictionary(grouping: emitted) { "\($0.orderId) \($0.eventType)" }.mapValues(\.count)
        func count(_ type: EventType, _ id: String) -> Int { emittedCount["\(id) \(type)", default: 0] }

        // 1. Every order ends in exactly one of CONFIRMED / CANCELLED, announced once.
        check(orders.count == world.orders.count, "\(world.orders.count - orders.count) orders were never placed")
        for (id, order) in orders.sorted(by: { $0.key < $1.key }) {
            check(order.status.isTerminal, "\(id) is still \(order.status)")
            check(order.isConsistent, "\(id) has inconsistent columns: \(order)")
            check(count(.orderConfirmed, id) + count(.orderCancelled, id) == 1,
                  "\(id) ended \(count(.orderConfirmed, id)) + \(count(.orderCancelled, id)) times")

            // 4. At most one reservation, charge, refund; every request answered exactly once; one notification.
            check(count(.stockReserved, id) + count(.stockRejected, id) == 1, "\(id): OrderPlaced answered \(count(.stockReserved, id) + count(.stockRejected, id)) times")
            check(count(.paymentCharged, id) + count(.paymentFailed, id) == count(.stockReserved, id), "\(id): StockReserved not answered exactly once")
            check(count(.paymentCharged, id) <= 1 && count(.paymentRefunded, id) <= 1, "\(id): charged or refunded twice")
            check(count(.stockReleased, id) <= 1, "\(id): released twice")
            check(count(.notificationSent, id) == 1, "\(id): \(count(.notificationSent, id)) notifications")
            let kinds = notifications.values.filter { $0.orderId == id }.map(\.kind)
            check(kinds == [order.status == .confirmed ? .orderConfirmed : .orderCancelled], "\(id) is \(order.status) but notified \(kinds)")

            // What the end means for the other services.
            let reservation = reservations[id]?.state
            let payment = payments[id]
            switch order.status {
            case .confirmed:
                check(reservation == .sold, "\(id) confirmed but its reservation is \(reservation.map(\.rawValue) ?? "absent")")
                check(payment?.state == .charged && payment?.amount == order.total, "\(id) confirmed but payment is \(String(describing: payment))")
                check(count(.paymentRefunded, id) == 0, "\(id) confirmed and refunded")
            case .cancelled, .pending:
                check(reservation != .reserved && reservation != .sold, "\(id) cancelled but its reservation is \(reservation!)")
                check((payment?.netCharge ?? 0) == 0, "\(id) cancelled but still charged")
                check(count(.paymentRefunded, id) == count(.paymentCharged, id), "\(id) cancelled: \(count(.paymentCharged, id)) charges, \(count(.paymentRefunded, id)) refunds")
            }
        }

        // 2. Per SKU: conservation, nothing negative, nothing reserved once all orders ended.
        let confirmed = orders.values.filter { $0.status == .confirmed }
        for (index, initial) in world.stock.enumerated() {
            let sku = World.sku(index)
            let level = stock[sku]!
            let sold = confirmed.flatMap(\.lines).filter { $0.sku == sku }.reduce(0) { $0 + Int64($1.quantity) }
            check(level.isValid, "\(sku) went negative: \(level)")
            check(level.total == initial, "\(sku): \(initial) initially, now \(level)")
            check(level.reserved == 0, "\(sku): \(level.reserved) still reserved")
            check(level.sold == sold, "\(sku): \(level.sold) sold, confirmed orders took \(sold)")
        }

        // 3. Per customer: initial = balance + net charges; net charge = totals of the confirmed orders.
        for (index, customer) in world.customers.enumerated() {
            let id = World.customer(index)
            let balance = accounts[id]!.balance
            let net = payments.values.filter { $0.customerId == id }.reduce(0) { $0 + $1.netCharge }
            let owed = confirmed.filter { $0.customerId == id }.reduce(0) { $0 + $1.total.minorUnits }
            check(balance >= 0, "\(id): balance \(balance)")
            check(customer.balance == balance + net, "\(id): \(customer.balance) initially, now \(balance) + \(net) charged")
            check(net == owed, "\(id): charged \(net), confirmed orders total \(owed)")
        }
        return violations
    }
}
