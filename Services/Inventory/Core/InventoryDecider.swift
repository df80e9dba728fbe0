import EventSchema

/// Inventory's saga rules: reserve every line of an order or none, hold the
/// reservation until the order's fate is known, then sell or release it, once.
///
/// Decisions, beyond the architecture table:
/// - OrderCancelled or PaymentFailed before OrderPlaced (possible only when
///   OrderPlaced is replayed late, e.g. from the dead letters) leaves a VOIDED
///   tombstone; the late OrderPlaced then reserves nothing and is answered with
///   StockRejected(ORDER_CANCELLED). The Order service has already cancelled (it
///   wrote the OrderCancelled, or it cancels on the PaymentFailed it consumes
///   itself) and ignores that answer; it is emitted so that every OrderPlaced gets
///   exactly one answer on inventory.v1, which audits and dashboards rely on.
/// - Lines of the same SKU are added up before checking availability.
/// - Validation order: invalid lines (INVALID_ORDER), then unknown SKUs, then
///   shortages (OUT_OF_STOCK); `unavailable` lists every SKU that cannot be served.
/// - A SKU Inventory does not know is not the customer's doing: Order priced it, so
///   the two services' catalogs disagree. The OrderPlaced is rejected (dead-lettered)
///   rather than answered, so that an operator adds the SKU and replays the dead
///   letter (`kafka-tool deadletters replay`); the order ends then, or by its deadline.
public enum InventoryDecider {
    public static let handledEvents: Set<EventType> = [.orderPlaced, .orderConfirmed, .orderCancelled, .paymentFailed]

    /// The stock rows `decide` reads or its movements write, sorted: load and lock
    /// them in this order (`SELECT … FOR UPDATE`) so that concurrent orders never deadlock.
    public static func skus(for event: SagaEvent, reservation: ReservationRecord?) -> [String] {
        let lines: [Saga_V1_OrderLine] = if case let .orderPlaced(e) = event { e.lines } else { reservation?.lines ?? [] }
        return Set(lines.map(\.sku)).sorted()
    }

    /// - Parameters:
    ///   - reservation: the stored row for `event.orderId`, nil if none.
    ///   - stock: current levels of (at least) the order's SKUs; a missing SKU is unknown.
    public static func decide(
        _ reservation: ReservationRecord?, stock: [String: StockLevel], on event: SagaEvent, now: Int64
    ) -> InventoryDecision {
        let type = event.eventType
        guard handledEvents.contains(type) else { return .ignored(.notHandled(type)) }
        if let reservation, reservation.orderId != event.orderId {
            return .rejected(.orderIdMismatch(record: reservation.orderId, event: event.orderId))
        }
        switch event {
        case let .orderPlaced(placed):
            guard let reservation else { return reserve(placed, stock: stock, now: now) }
            guard reservation.state == .voided else { return .ignored(.duplicate(type, state: reservation.state)) }
            var rejected = reservation.moved(to: .rejected, at: now)
            rejected.lines = placed.lines
            let event = rejection(placed, .orderCancelled, unavailable: [], detail: "the order was cancelled before it was placed", now: now)
            return .transition(InventoryTransition(from: .voided, to: rejected, movements: [], events: [event]))

        case let .orderConfirmed(confirmed):
            switch reservation?.state {
            case .reserved?:
                let sold = reservation!.moved(to: .sold, at: now)
                let movements = sold.quantities.map { StockMovement(sku: $0.sku, quantity: $0.quantity, kind: .sell) }
                return .transition(InventoryTransition(from: .reserved, to: sold, movements: movements, events: []))
            case .sold?:
                return .ignored(.duplicate(type, state: .sold))
            case let state:
                return .rejected(.confirmedWithoutReservation(orderId: confirmed.orderID, state: state))
            }

        case let .orderCancelled(cancelled):
            return release(reservation, on: event, customerId: cancelled.customerID,
                           reason: .orderCancelled, paymentFailure: .unspecified, now: now)
        case let .paymentFailed(failed):
            return release(reservation, on: event, customerId: failed.customerID,
                           reason: .paymentFailed, paymentFailure: failed.reason, now: now)
        default:
            return .ignored(.notHandled(type))
        }
    }

    private static func reserve(_ placed: Saga_V1_OrderPlaced, stock: [String: StockLevel], now: Int64) -> InventoryDecision {
        let record = ReservationRecord(orderId: placed.orderID, customerId: placed.customerID,
                                       state: .reserved, lines: placed.lines, updatedAtUnixMs: now)
        func reject(_ reason: Saga_V1_StockRejected.Reason, _ unavailable: [Saga_V1_StockRejected.UnavailableSku], _ detail: String) -> InventoryDecision {
            let event = rejection(placed, reason, unavailable: unavailable, detail: detail, now: now)
            return .transition(InventoryTransition(from: nil, to: record.moved(to: .rejected, at: now), movements: [], events: [event]))
        }

        if placed.lines.isEmpty { return reject(.invalidOrder, [], "the order has no lines") }
        if let bad = placed.lines.first(where: { $0.quantity <= 0 || $0.sku.isEmpty }) {
            return reject(.invalidOrder, [], "invalid line: SKU \"\(bad.sku)\", quantity \(bad.quantity)")
        }
        let wanted = record.quantities
        let unknown = wanted.filter { stock[$0.sku] == nil }
        if !unknown.isEmpty {
            return .rejected(.unknownSkus(orderId: placed.orderID, skus: unknown.map(\.sku)))
        }
        let short = wanted.filter { stock[$0.sku]!.available < $0.quantity }
        if !short.isEmpty {
            return reject(.outOfStock, short.map { unavailable($0.sku, $0.quantity, stock[$0.sku]!.available) }, "")
        }

        var event = Saga_V1_StockReserved()
        event.orderID = placed.orderID
        event.customerID = placed.customerID
        event.lines = placed.lines
        event.amount = placed.total
        event.deadlineUnixMs = placed.deadlineUnixMs
        event.reservedAtUnixMs = now
        let movements = wanted.map { StockMovement(sku: $0.sku, quantity: $0.quantity, kind: .reserve) }
        return .transition(InventoryTransition(from: nil, to: record, movements: movements, events: [.stockReserved(event)]))
    }

    private static func release(
        _ reservation: ReservationRecord?, on event: SagaEvent, customerId: String,
        reason: Saga_V1_StockReleased.Reason, paymentFailure: Saga_V1_PaymentFailureReason, now: Int64
    ) -> InventoryDecision {
        guard let reservation else {
            let voided = ReservationRecord(orderId: event.orderId, customerId: customerId, state: .voided, lines: [], updatedAtUnixMs: now)
            return .transition(InventoryTransition(from: nil, to: voided, movements: [], events: []))
        }
        switch reservation.state {
        case .reserved:
            let released = reservation.moved(to: .released, at: now)
            let movements = released.quantities.map { StockMovement(sku: $0.sku, quantity: $0.quantity, kind: .release) }
            var e = Saga_V1_StockReleased()
            e.orderID = reservation.orderId
            e.customerID = reservation.customerId
            e.reason = reason
            e.lines = reservation.lines
            e.paymentFailureReason = paymentFailure
            e.releasedAtUnixMs = now
            return .transition(InventoryTransition(from: .reserved, to: released, movements: movements, events: [.stockReleased(e)]))
        case .sold:
            return .rejected(.releaseAfterSale(event.eventType, orderId: reservation.orderId))
        case .rejected, .released, .voided:
            return .ignored(.nothingHeld(event.eventType, state: reservation.state))
        }
    }

    private static func rejection(
        _ placed: Saga_V1_OrderPlaced, _ reason: Saga_V1_StockRejected.Reason,
        unavailable: [Saga_V1_StockRejected.UnavailableSku], detail: String, now: Int64
    ) -> SagaEvent {
        var e = Saga_V1_StockRejected()
        e.orderID = placed.orderID
        e.customerID = placed.customerID
        e.reason = reason
        e.unavailable = unavailable
        e.rejectedAtUnixMs = now
        e.detail = detail
        return .stockRejected(e)
    }

    private static func unavailable(_ sku: String, _ requested: Int64, _ available: Int64) -> Saga_V1_StockRejected.UnavailableSku {
        var u = Saga_V1_StockRejected.UnavailableSku()
        u.sku = sku
        u.requested = Int32(clamping: requested)
        u.available = Int32(clamping: available)
        return u
    }
}
