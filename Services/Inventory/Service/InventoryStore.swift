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
    private static let lockedStockLevels = InListStatement("SELECT sku, available, reserved, sold FROM stock WHERE sku IN",
                                                           suffix: "ORDER BY sku FOR UPDATE")
    private static let reservationRows = InListStatement("SELECT * FROM reservations WHERE order_id IN")

    /// The reservations of `orderIds` that exist, by order id, in one statement.
    static func reservations(_ orderIds: [String], on connection: any SQLConnection) throws -> [String: ReservationRecord] {
        try reservationRows.fetch(ReservationRecord.self, orderIds, key: \.orderId, on: connection)
    }

    /// The movements' conditional updates, one statement per kind for all their SKUs (lines of
    /// one SKU summed, SKUs in order): true when every SKU moved, false when any would go below
    /// zero (the caller rolls the transaction back).
    static func apply(_ movements: [StockMovement], on connection: any SQLConnection) throws -> Bool {
        var moved = 0
        var wanted = 0
        for kind in StockMovement.Kind.allCases {
            var quantities: [String: Int64] = [:]
            for movement in movements where movement.kind == kind { quantities[movement.sku, default: 0] += movement.quantity }
            guard !quantities.isEmpty else { continue }
            wanted += quantities.count
            let rows = quantities.sorted { $0.key < $1.key }.map { [SQLValue.text($0.key), .integer($0.value)] }
            moved += try movementStatement(kind).execute(rows, on: connection)
        }
        return moved == wanted
    }

    private static func movementStatement(_ kind: StockMovement.Kind) -> MultiRowStatement {
        switch kind {
        case .reserve: reserve
        case .release: release
        case .sell: sell
        }
    }

    private static let newReservations = MultiRowStatement(
        "INSERT INTO reservations (order_id, customer_id, state, lines, updated_at_ms)", columns: 5,
        suffix: "ON CONFLICT (order_id) DO NOTHING")

    /// `UPDATE … FROM (VALUES (sku, q), …) AS v`: PostgreSQL and SQLite (3.33+) alike name the
    /// columns of a VALUES list column1, column2. 32 rows at most: 64 binds, still prepared.
    private static func movement(_ assignments: String, keeping column: String) -> MultiRowStatement {
        MultiRowStatement("UPDATE stock SET \(assignments) FROM (", columns: 2,
                          suffix: ") AS v WHERE stock.sku = v.column1 AND stock.\(column) >= v.column2", maxRows: 32)
    }

    private static let reserve = movement("available = available - v.column2, reserved = reserved + v.column2", keeping: "available")
    private static let release = movement("reserved = reserved - v.column2, available = available + v.column2", keeping: "reserved")
    private static let sell = movement("reserved = reserved - v.column2, sold = sold + v.column2", keeping: "reserved")

    /// A new reservation (`UnitOfWork.insertNew`: false if the row appeared meanwhile, decide
    /// again), else an update conditional on the state decided from.
    static func write(_ record: ReservationRecord, from: ReservationState?, in unit: UnitOfWork) throws -> Bool {
        guard let from else {
            return try unit.insertNew([.text(record.orderId), .text(record.customerId), .text(record.state.rawValue),
                                       LinesColumn.encode(record.lines), .integer(record.updatedAtUnixMs)],
                                      with: newReservations, into: "reservations")
        }
        return try unit.connection.execute(
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
