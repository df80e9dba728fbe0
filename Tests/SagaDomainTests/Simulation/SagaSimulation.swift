import EventSchema
import InventoryCore
import NotificationCore
import OrderCore
import PaymentCore
import SeededRandom

/// The four services' domain cores wired together through an in-memory Kafka:
/// the choreography of ARCHITECTURE.md §4, runnable.
///
/// What it models, per step, chosen by a seeded scheduler:
/// - a client places the next order (POST /orders);
/// - one consumer reads the next event of one order on one topic; Kafka keeps
///   each order's events in order within a topic, not across topics;
/// - a consumer is rewound (a rebalance, a crash before storing the offset) and
///   reads events again; the relay publishes an event twice (a lost ack);
/// - Order's sweeper times out orders; Payment's clock is skewed against Order's.
/// Each handler does what its service's transaction will do: decide, check the
/// conditional update's from-state, apply movements, append to the outbox (here:
/// straight to the log).
struct SagaSimulation {
    enum Service: String, CaseIterable {
        case order, inventory, payment, notification

        /// The topics each service consumes.
        var subscriptions: [TopicSpec] {
            switch self {
            case .order: [TopicCatalog.inventory, TopicCatalog.payments]
            case .inventory: [TopicCatalog.orders, TopicCatalog.payments]
            case .payment: [TopicCatalog.inventory, TopicCatalog.orders]
            case .notification: [TopicCatalog.orders]
            }
        }
    }

    /// One consumer's position in one order's events on one topic.
    struct Cursor: Hashable {
        let service: Service
        let topic: String
        let orderId: String
    }

    let world: World
    let prices: PriceList
    var rng: SplitMix64
    var now: Int64 = 1_000

    // Each service's database.
    var orders: [String: OrderRecord] = [:]
    var reservations: [String: ReservationRecord] = [:]
    var stock: [String: StockLevel]
    var payments: [String: PaymentRecord] = [:]
    var accounts: [String: Account]
    var notifications: [String: NotificationRecord] = [:]

    // Kafka: topic → order ID → events, and each consumer's next position.
    var log: [String: [String: [SagaEvent]]] = [:]
    var positions: [Cursor: Int] = [:]

    /// Every event a decision emitted, once each (the log may hold relay duplicates).
    var emitted: [SagaEvent] = []
    /// What went wrong along the way: rejections, lost races, non-idempotent handlers.
    var problems: [String] = []

    init(_ world: World) {
        self.world = world
        rng = SplitMix64(seed: world.seed)
        let skus = world.stock.indices.map(World.sku)
        prices = PriceList(currency: "EUR", unitPrices: Dictionary(uniqueKeysWithValues: zip(skus, world.prices)))
        stock = Dictionary(uniqueKeysWithValues: zip(skus, world.stock.map { StockLevel(available: $0) }))
        accounts = [:]
        for (index, customer) in world.customers.enumerated() {
            let id = World.customer(index)
            accounts[id] = Account(customerId: id, currency: "EUR", balance: customer.balance, blocked: customer.blocked)
        }
    }

    /// Runs until every order is placed and every consumer has read everything.
    static func run(_ world: World) -> SagaSimulation {
        var sim = SagaSimulation(world)
        var unplaced = Array(world.orders.indices)
        var rewinds = 10  // bounded, so that every run ends
        while true {
            sim.now += Int64.random(in: 1...3, using: &sim.rng)
            let ready = sim.readyCursors()
            if unplaced.isEmpty, ready.isEmpty { break }

            // Order's sweeper wakes up now and then (never, in some worlds).
            if sim.rng.chance(world.sweeperRate) { sim.sweep() }

            if !unplaced.isEmpty, ready.isEmpty || sim.rng.chance(0.3) {
                // A client places the next order.
                sim.place(unplaced.removeFirst())
            } else {
                // Some consumer reads the next event of some order on some topic.
                let cursor = ready.randomElement(using: &sim.rng)!
                sim.deliver(cursor)
                // Sometimes it crashes before storing its offset and reads again from further back.
                if rewinds > 0, sim.rng.chance(0.1) {
                    rewinds -= 1
                    sim.positions[cursor] = Int.random(in: 0..<sim.positions[cursor]!, using: &sim.rng)
                }
            }
        }
        return sim
    }

    // MARK: Kafka

    func readyCursors() -> [Cursor] {
        let orderIds = orders.keys.sorted()
        return Service.allCases.flatMap { service in
            service.subscriptions.flatMap { topic in
                orderIds.compactMap { orderId in
                    let cursor = Cursor(service: service, topic: topic.name, orderId: orderId)
                    return positions[cursor, default: 0] < log[topic.name]?[orderId]?.count ?? 0 ? cursor : nil
                }
            }
        }
    }

    mutating func deliver(_ cursor: Cursor) {
        let position = positions[cursor, default: 0]
        positions[cursor] = position + 1
        let event = log[cursor.topic]![cursor.orderId]![position]
        switch cursor.service {
        case .order: orderService(event)
        case .inventory: inventoryService(event)
        case .payment: paymentService(event)
        case .notification: notificationService(event)
        }
    }

    /// Scripted steps for scenario tests: deliver what `service` can read (on `topic`), in log order.
    mutating func deliverAll(to service: Service, on topic: TopicSpec? = nil) {
        while let cursor = readyCursors().first(where: { $0.service == service && (topic == nil || $0.topic == topic!.name) }) {
            deliver(cursor)
        }
    }

    /// Everything to everyone, until nothing is left.
    mutating func drain() {
        while let cursor = readyCursors().first { deliver(cursor) }
    }

    /// The relay: the outbox's events go to their topics, sometimes twice.
    mutating func publish(_ events: [SagaEvent]) {
        for event in events {
            emitted.append(event)
            for _ in 0..<(rng.chance(0.1) ? 2 : 1) {
                log[event.topic.name, default: [:]][event.orderId, default: []].append(event)
            }
        }
    }

    // MARK: Order service

    mutating func place(_ index: Int) {
        let spec = world.orders[index]
        let command = PlaceOrder(orderId: World.order(index), customerId: World.customer(spec.customer),
                                 lines: spec.lines.map { PlaceOrder.Line(sku: World.sku($0.sku), quantity: $0.quantity) })
        switch OrderDecider.place(command, prices: prices, policy: OrderPolicy(sagaTimeoutMs: world.sagaTimeout), now: now) {
        case let .success(t): commitOrder(t)
        case let .failure(f): problems.append("order \(index) refused: \(f)")
        }
    }

    /// The sweeper asks about every PENDING order; the decider ignores those not yet due.
    mutating func sweep() {
        for id in orders.keys.sorted() where orders[id]!.status == .pending {
            if let t = OrderDecider.timeout(orders[id]!, now: now).transition { commitOrder(t) }
        }
    }

    mutating func orderService(_ event: SagaEvent) {
        switch OrderDecider.decide(orders[event.orderId], on: event, now: now) {
        case let .transition(t):
            commitOrder(t)
            expectNoTransition(OrderDecider.decide(orders[event.orderId], on: event, now: now).transition, .order, event)
        case .ignored: break
        case let .rejected(why): problems.append("Order rejected \(event.eventType) of \(event.orderId): \(why)")
        }
    }

    mutating func commitOrder(_ t: OrderTransition) {
        guard orders[t.to.orderId]?.status == t.from else { return lostRace("Order", t.to.orderId) }
        orders[t.to.orderId] = t.to
        publish(t.events)
    }

    // MARK: Inventory service

    mutating func inventoryService(_ event: SagaEvent) {
        let id = event.orderId
        func decide(_ sim: SagaSimulation) -> InventoryDecision {
            let skus = InventoryDecider.skus(for: event, reservation: sim.reservations[id])
            return InventoryDecider.decide(sim.reservations[id], stock: sim.stock.filter { skus.contains($0.key) }, on: event, now: sim.now)
        }
        switch decide(self) {
        case let .transition(t):
            guard reservations[id]?.state == t.from else { return lostRace("Inventory", id) }
            guard let moved = stock.applying(t.movements) else {
                return problems.append("Inventory: \(t.movements) would drive stock negative for \(id)")
            }
            stock = moved
            reservations[id] = t.to
            publish(t.events)
            expectNoTransition(decide(self).transition, .inventory, event)
        case .ignored: break
        case let .rejected(why): problems.append("Inventory rejected \(event.eventType) of \(id): \(why)")
        }
    }

    // MARK: Payment service

    mutating func paymentService(_ event: SagaEvent) {
        let id = event.orderId
        let paymentNow = now + world.paymentClockSkew
        func decide(_ sim: SagaSimulation) -> PaymentDecision {
            let customer = PaymentDecider.customerId(for: event, payment: sim.payments[id])
            return PaymentDecider.decide(sim.payments[id], account: customer.flatMap { sim.accounts[$0] }, on: event, now: paymentNow)
        }
        switch decide(self) {
        case let .transition(t):
            guard payments[id]?.state == t.from else { return lostRace("Payment", id) }
            for movement in t.movements {
                guard let next = accounts[movement.customerId]?.applying(movement) else {
                    return problems.append("Payment: \(movement) not possible for \(id)")
                }
                accounts[movement.customerId] = next
            }
            payments[id] = t.to
            publish(t.events)
            expectNoTransition(decide(self).transition, .payment, event)
        case .ignored: break
        case let .rejected(why): problems.append("Payment rejected \(event.eventType) of \(id): \(why)")
        }
    }

    // MARK: Notification service

    mutating func notificationService(_ event: SagaEvent) {
        guard let kind = NotificationKind(for: event) else { return }
        let key = "\(event.orderId)/\(kind)"
        switch NotificationDecider.decide(notifications[key], on: event, now: now) {
        case let .send(record, events):
            notifications[key] = record
            publish(events)
            expectNoTransition(NotificationDecider.decide(notifications[key], on: event, now: now).sent, .notification, event)
        case .ignored: break
        case let .rejected(why): problems.append("Notification rejected \(event.eventType): \(why)")
        }
    }

    // MARK: Checks made while running

    /// Idempotence, at every step: the same event again changes nothing.
    mutating func expectNoTransition<T>(_ again: T?, _ service: Service, _ event: SagaEvent) {
        if again != nil { problems.append("\(service) is not idempotent for \(event.eventType) of \(event.orderId)") }
    }

    /// One process per service here, so a conditional update can only miss through a bug.
    mutating func lostRace(_ service: String, _ orderId: String) {
        problems.append("\(service): conditional update for \(orderId) matched no row")
    }
}
