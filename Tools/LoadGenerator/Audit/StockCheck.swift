/// Invariant 2: per SKU, initial = available + reserved + sold with nothing negative; nothing
/// stays reserved for a finished order; and what was sold is exactly what CONFIRMED orders hold.
enum StockCheck {
    static func run(_ snapshot: AuditSnapshot, _ index: AuditIndex) -> InvariantResult {
        var result = InvariantResult(number: 2, title: "per SKU: initial = available + reserved + sold, nothing negative, sold = CONFIRMED lines, nothing reserved for a finished order",
                                     checkedWhat: "SKUs and reservations")
        result.checked = snapshot.stock.count + snapshot.reservations.count

        var expectedSold: [String: Int64] = [:]
        for order in snapshot.orders where order.status == .confirmed {
            guard let lines = snapshot.orderLines[order.orderId] else {
                result.violation("order \(order.orderId) is CONFIRMED but its lines are unknown (no OrderPlaced on orders.v1, no GET /orders/{id})")
                continue
            }
            for line in lines { expectedSold[line.sku, default: 0] += line.quantity }
        }
        var heldByReservations: [String: Int64] = [:]
        for reservation in snapshot.reservations where reservation.state == "RESERVED" {
            for line in reservation.lines { heldByReservations[line.sku, default: 0] += line.quantity }
        }

        var known = Set<String>()
        for item in snapshot.stock {
            known.insert(item.sku)
            let accounted = item.available + item.reserved + item.sold
            if item.initial != accounted {
                result.violation("SKU \(item.sku): initial \(item.initial) ≠ available \(item.available) + reserved \(item.reserved) + sold \(item.sold) = \(accounted)")
            }
            if min(item.initial, item.available, item.reserved, item.sold) < 0 {
                result.violation("SKU \(item.sku) has a negative count: initial \(item.initial), available \(item.available), reserved \(item.reserved), sold \(item.sold)")
            }
            let sold = expectedSold[item.sku] ?? 0
            if item.sold != sold {
                result.violation("SKU \(item.sku): sold \(item.sold) but CONFIRMED orders hold \(sold)")
            }
            let held = heldByReservations[item.sku] ?? 0
            if item.reserved != held {
                result.violation("SKU \(item.sku): reserved \(item.reserved) but RESERVED reservations hold \(held)")
            }
        }
        for sku in expectedSold.keys.sorted() where !known.contains(sku) {
            result.violation("SKU \(sku) is in CONFIRMED orders but not in GET /stock")
        }

        var reservationByOrder: [String: AuditSnapshot.Reservation] = [:]
        for reservation in snapshot.reservations {
            reservationByOrder[reservation.orderId] = reservation
            guard let status = index.ordersById[reservation.orderId]?.status else { continue }
            switch (reservation.state, status) {
            case ("RESERVED", .confirmed), ("RESERVED", .cancelled):
                result.violation("reservation of order \(reservation.orderId) is still RESERVED though the order is \(status.rawValue)")
            case ("SOLD", .cancelled):
                result.violation("reservation of order \(reservation.orderId) is SOLD though the order is CANCELLED")
            default:
                break
            }
        }
        for order in snapshot.orders where order.status == .confirmed {
            let state = reservationByOrder[order.orderId]?.state
            if state != "SOLD" && state != "RESERVED" { // RESERVED is reported above
                result.violation("order \(order.orderId) is CONFIRMED but its reservation is \(state ?? "missing"), expected SOLD")
            }
        }
        return result
    }
}
