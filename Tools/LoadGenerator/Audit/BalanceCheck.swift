/// Invariant 3: per customer, initial balance = balance + net charges, where an order's net
/// charge is its total when CONFIRMED and 0 when CANCELLED; no balance below zero.
enum BalanceCheck {
    static func run(_ snapshot: AuditSnapshot, _ index: AuditIndex) -> InvariantResult {
        var result = InvariantResult(number: 3, title: "per customer: initial balance − balance = totals of CONFIRMED orders, no negative balance",
                                     checkedWhat: "customers and orders")
        result.checked = snapshot.accounts.count + snapshot.orders.count

        var confirmedTotals: [String: Int64] = [:]
        for order in snapshot.orders where order.status == .confirmed {
            confirmedTotals[order.customerId, default: 0] += order.total
        }
        var known = Set<String>()
        for account in snapshot.accounts {
            known.insert(account.customerId)
            let spent = account.initialBalance - account.balance
            let owed = confirmedTotals[account.customerId] ?? 0
            if spent != owed {
                result.violation("customer \(account.customerId): initial \(account.initialBalance) − balance \(account.balance) = \(spent), but CONFIRMED orders total \(owed)")
            }
            if account.balance < 0 {
                result.violation("customer \(account.customerId) has a negative balance \(account.balance)")
            }
        }
        for customer in confirmedTotals.keys.sorted() where !known.contains(customer) {
            result.violation("customer \(customer) has CONFIRMED orders but no account in GET /accounts")
        }

        // Per order, so a wrong charge is pinned to the order that caused it.
        let paymentByOrder = Dictionary(snapshot.payments.map { ($0.orderId, $0) }, uniquingKeysWith: { first, _ in first })
        for order in snapshot.orders where order.status.isTerminal {
            let net = paymentByOrder[order.orderId]?.netCharge ?? 0
            let expected = order.status == .confirmed ? order.total : 0
            if net != expected {
                result.violation("order \(order.orderId) is \(order.status.rawValue) with total \(order.total) but its payment nets \(net), expected \(expected)")
            }
        }
        for payment in snapshot.payments where payment.netCharge != 0 && index.ordersById[payment.orderId] == nil {
            result.violation("payment of unknown order \(payment.orderId) nets \(payment.netCharge)")
        }
        return result
    }
}
