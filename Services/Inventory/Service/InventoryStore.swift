import EventSchema
import Messaging
import InventoryCore
import Persistence
import ServiceKit
import SagaAPI

/// Reads and writes `stock` and `reservations` inside a caller's transaction.
enum InventoryStore {
    static func stockViews(on connection: any SQLConnection) throws -> [StockView] {
        try connection.fetch(StockView.self, "SELECT * FROM stock ORDER BY sku")
    }

    static func stockView(_ sku: String, on connection: any SQLConnection) throws -> StockView? {
        try connection.fetchOne(StockView.self, "SELECT * FROM stock WHERE sku = ?", [.text(sku)])
    }

    static func reservationPage(after: String, limit: Int, on connection: any SQLConnection) throws -> [ReservationRecord] {
        try connection.fetch(ReservationRecord.self, "SELECT * FROM reservations WHERE order_id > ? ORDER BY order_id LIMIT ?",
                             [.text(after), .integer(Int64(limit))])
    }

    static func reservation(_ orderId: String, on connection: any SQLConnection) throws -> ReservationRecord? {
        try connection.fetchOne(ReservationRecord.self, "SELECT * FROM reservations WHERE order_id = ?", [.text(orderId)])
    }

    /// Levels of `skus` (sorted by the decider), in one statement; on PostgreSQL the rows stay
    /// locked until commit, taken in SKU order so that two orders for the same SKUs cannot
    /// deadlock. SQLite's single writer already excludes every other transaction.
    static func stock(_ skus: [String], on connection: any SQLConnection) throws -> [String: StockLevel] {
        guard !skus.isEmpty else { return [:] }
        let statement = connection.dialect == .postgres ? lockedStockLevels : stockLevels
        var levels: [String: StockLevel] = [:]
        for row in try statement.query(skus.map { .text($0) }, on: connection) {
            if let sku = row.string("sku") { levels[sku] = StockLevel(row: row) }
        }
        return levels
    }

    private static let stockLevels = InListStatement("SELECT sku, available, reserved, sold FROM stock WHERE sku IN")
    /// Also the batch's lock (`lockStock`): one statement, one prepared plan, for both.
    private static let lockedStockLevels = InListStatement("SELECT sku, available, reserved, sold FROM stock WHERE sku IN",
                                                           suffix: "ORDER BY sku FOR UPDATE")
    private static let reservationLines = InListStatement("SELECT lines FROM reservations WHERE order_id IN")

    /// The SKUs held by these orders' reservations.
    static func reservedSkus(of orderIds: [String], on connection: any SQLConnection) throws -> Set<String> {
        guard !orderIds.isEmpty else { return [] }
        var skus = Set<String>()
        for row in try reservationLines.query(Array(Set(orderIds)).map { .text($0) }, on: connection) {
            skus.formUnion(try LinesColumn.decode(row.string("lines")).map(\.sku))
        }
        return skus
    }

    /// Locks the stock rows of `skus` (sorted) until commit, in that order (PostgreSQL).
    static func lockStock(_ skus: [String], on connection: any SQLConnection) throws {
        guard !skus.isEmpty else { return }
        _ = try lockedStockLevels.query(skus.map { .text($0) }, on: connection)
    }

    /// The movement's conditional update; false if it would take a column below zero.
    static func apply(_ movement: StockMovement, on connection: any SQLConnection) throws -> Bool {
        let q = SQLValue.integer(movement.quantity)
        let sql = switch movement.kind {
        case .reserve: "UPDATE stock SET available = available - ?, reserved = reserved + ? WHERE sku = ? AND available >= ?"
        case .release: "UPDATE stock SET reserved = reserved - ?, available = available + ? WHERE sku = ? AND reserved >= ?"
        case .sell: "UPDATE stock SET reserved = reserved - ?, sold = sold + ? WHERE sku = ? AND reserved >= ?"
        }
        return try connection.execute(sql, [q, q, .text(movement.sku), q]) == 1
    }

    /// INSERT for a new reservation (nothing if the row appeared meanwhile: false, decide
    /// again), else an update conditional on the state decided from.
    static func write(_ record: ReservationRecord, from: ReservationState?, on connection: any SQLConnection) throws -> Bool {
        guard let from else {
            return try connection.execute(
                "INSERT INTO reservations (order_id, customer_id, state, lines, updated_at_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT (order_id) DO NOTHING",
                [.text(record.orderId), .text(record.customerId), .text(record.state.rawValue),
                 LinesColumn.encode(record.lines), .integer(record.updatedAtUnixMs)]) == 1
        }
        return try connection.execute(
            "UPDATE reservations SET state = ?, lines = ?, updated_at_ms = ? WHERE order_id = ? AND state = ?",
            [.text(record.state.rawValue), LinesColumn.encode(record.lines), .integer(record.updatedAtUnixMs),
             .text(record.orderId), .text(from.rawValue)]) == 1
    }

    /// Seeds SKUs that are missing; never touches existing rows (a restart keeps its stock).
    static func seed(_ skus: [SeedCatalog.SKU], on connection: any SQLConnection) throws -> Int {
        var inserted = 0
        for sku in skus {
            inserted += try connection.execute("""
                INSERT INTO stock (sku, initial, available, reserved, sold) VALUES (?, ?, ?, 0, 0)
                ON CONFLICT (sku) DO NOTHING
                """, [.text(sku.sku), .integer(sku.stock), .integer(sku.stock)])
        }
        return inserted
    }
}

extension ReservationRecord: RowDecodable {
    public init(row: SQLRow) throws {
        guard let orderId = row.string("order_id"), let state = row.string("state").flatMap(ReservationState.init(rawValue:)) else {
            throw SQLError.permanent("corrupt reservations row: \(row)")
        }
        self.init(orderId: orderId, customerId: row.string("customer_id") ?? "", state: state,
                  lines: try LinesColumn.decode(row.string("lines")), updatedAtUnixMs: row.int("updated_at_ms") ?? 0)
    }
}

extension StockLevel: RowDecodable {
    public init(row: SQLRow) {
        self.init(available: row.int("available") ?? 0, reserved: row.int("reserved") ?? 0, sold: row.int("sold") ?? 0)
    }
}

extension StockView: RowDecodable {
    public init(row: SQLRow) {
        self.init(sku: row.string("sku") ?? "", initial: row.int("initial") ?? 0, available: row.int("available") ?? 0,
                  reserved: row.int("reserved") ?? 0, sold: row.int("sold") ?? 0)
    }
}
