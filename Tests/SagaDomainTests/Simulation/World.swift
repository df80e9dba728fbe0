import PropertyBased

/// A small generated universe for one simulated run: SKUs with stock, customers
/// with balances (some blocked), orders, and the seed of the scheduler.
struct World: Sendable, CustomStringConvertible {
    struct Customer: Sendable {
        var balance: Int64
        var blocked: Bool
    }

    struct Order: Sendable {
        /// Index into `customers`; `customers.count` is a customer Payment does not know.
        var customer: Int
        /// (SKU index, quantity), one line per SKU.
        var lines: [(sku: Int, quantity: Int)]
    }

    var stock: [Int64]
    var prices: [Int64]
    var customers: [Customer]
    var orders: [Order]
    /// Placed-at to deadline, in simulated milliseconds (each scheduler step takes 1–3).
    var sagaTimeout: Int64
    /// Payment's clock minus Order's: the two disagree on when a deadline passed.
    var paymentClockSkew: Int64
    /// Chance per step that Order's sweeper runs (0: never; orders must still end).
    var sweeperRate: Double
    var seed: UInt64

    static func sku(_ index: Int) -> String { "sku-\(index)" }
    static func customer(_ index: Int) -> String { "cust-\(index)" }
    static func order(_ index: Int) -> String { "order-\(index)" }

    var description: String {
        let c = customers.enumerated().map { "\($0.offset):\($0.element.balance)\($0.element.blocked ? "(blocked)" : "")" }
        let o = orders.map { o in "c\(o.customer)[" + o.lines.map { "\($0.sku)x\($0.quantity)" }.joined(separator: ",") + "]" }
        return "World(stock: \(stock), prices: \(prices), customers: [\(c.joined(separator: " "))], orders: [\(o.joined(separator: " "))], "
            + "timeout: \(sagaTimeout), skew: \(paymentClockSkew), sweeper: \(sweeperRate), seed: \(seed))"
    }

    static let skuCount = 3
    static let customerCount = 3

    static var generator: Generator<World, some SendableSequenceType> {
        let customer = zip(Gen.int64(in: 0...1_500), Gen.bool(0.2)).map { Customer(balance: $0.0, blocked: $0.1) }
        let line = zip(Gen.int(in: 0..<skuCount), Gen.int(in: 1...3))
        let order = zip(Gen.int(in: 0...customerCount), line.array(of: 1...3)).map { spec in
            Order(customer: spec.0, lines: mergedBySku(spec.1))
        }
        return zip(
            Gen.int64(in: 0...6).array(of: skuCount),
            Gen.int64(in: 1...500).array(of: skuCount),
            customer.array(of: customerCount),
            order.array(of: 1...6),
            Gen.int64(in: 5...150),
            Gen.int64(in: -60...20),
            Gen.int(in: 0...2).map { [0, 0.05, 0.3][$0] },
            Gen.uint64()
        ).map { w in
            World(stock: w.0, prices: w.1, customers: w.2, orders: w.3, sagaTimeout: w.4,
                  paymentClockSkew: w.5, sweeperRate: w.6, seed: w.7)
        }
    }

    /// More orders than stock, deadlines a few steps long and the sweeper on:
    /// races between the timeout and the payment decide most outcomes.
    static var crowded: Generator<World, some SendableSequenceType> {
        generator.map { world in
            var w = world
            w.orders += w.orders
            w.stock = w.stock.map { min($0, 3) }
            w.sagaTimeout = w.sagaTimeout % 25 + 5
            w.sweeperRate = max(w.sweeperRate, 0.05)
            return w
        }
    }

    private static func mergedBySku(_ lines: [(Int, Int)]) -> [(sku: Int, quantity: Int)] {
        var merged: [Int: Int] = [:]
        for (sku, quantity) in lines { merged[sku, default: 0] += quantity }
        return merged.sorted { $0.key < $1.key }.map { (sku: $0.key, quantity: $0.value) }
    }
}
