import EventSchema
import Messaging
import PaymentCore
import Persistence
import ServiceKit
import SagaAPI

/// Reads and writes `accounts` and `payments` inside a caller's transaction.
enum PaymentStore {
    static func payment(_ orderId: String, on connection: any SQLConnection) throws -> PaymentRecord? {
        try connection.fetchOne(PaymentRecord.self, "SELECT * FROM payments WHERE order_id = ?", [.text(orderId)])
    }

    /// A page of payments after `after` in order-id order; only `customer`'s when given.
    static func paymentPage(after: String, limit: Int, customer: String?, on connection: any SQLConnection) throws -> [PaymentRecord] {
        if let customer {
            return try connection.fetch(PaymentRecord.self,
                                        "SELECT * FROM payments WHERE customer_id = ? AND order_id > ? ORDER BY order_id LIMIT ?",
                                        [.text(customer), .text(after), .integer(Int64(limit))])
        }
        return try connection.fetch(PaymentRecord.self, "SELECT * FROM payments WHERE order_id > ? ORDER BY order_id LIMIT ?",
                                    [.text(after), .integer(Int64(limit))])
    }

    static func accountPage(after: String, limit: Int, on connection: any SQLConnection) throws -> [AccountView] {
        try connection.fetch(AccountView.self, "SELECT * FROM accounts WHERE customer_id > ? ORDER BY customer_id LIMIT ?",
                             [.text(after), .integer(Int64(limit))])
    }

    static func accountView(_ customerId: String, on connection: any SQLConnection) throws -> AccountView? {
        try connection.fetchOne(AccountView.self, "SELECT * FROM accounts WHERE customer_id = ?", [.text(customerId)])
    }

    /// The account, locked until commit on PostgreSQL (SQLite has a single writer).
    static func account(_ customerId: String, on connection: any SQLConnection) throws -> Account? {
        let lock = connection.dialect == .postgres ? " FOR UPDATE" : ""
        return try connection.fetchOne(Account.self, "SELECT * FROM accounts WHERE customer_id = ?\(lock)", [.text(customerId)])
    }

    /// The movement's conditional update; false if it would overdraw or charge a blocked account.
    static func apply(_ movement: AccountMovement, on connection: any SQLConnection) throws -> Bool {
        let amount = SQLValue.integer(movement.amount)
        let customer = SQLValue.text(movement.customerId)
        return switch movement.kind {
        case .charge:
            try connection.execute("UPDATE accounts SET balance = balance - ? WHERE customer_id = ? AND balance >= ? AND blocked = 0",
                                   [amount, customer, amount]) == 1
        case .refund:
            try connection.execute("UPDATE accounts SET balance = balance + ? WHERE customer_id = ?", [amount, customer]) == 1
        }
    }

    private static let paymentRows = InListStatement("SELECT * FROM payments WHERE order_id IN")
    private static let accountRows = InListStatement("SELECT * FROM accounts WHERE customer_id IN")
    private static let lockedAccountRows = InListStatement("SELECT * FROM accounts WHERE customer_id IN",
                                                           suffix: "ORDER BY customer_id FOR UPDATE")

    /// The payments of `orderIds` that exist, by order id, in one statement.
    static func payments(_ orderIds: [String], on connection: any SQLConnection) throws -> [String: PaymentRecord] {
        try paymentRows.fetch(PaymentRecord.self, orderIds, key: \.orderId, on: connection)
    }

    /// The accounts of `customers` that exist, by customer, in one statement; on PostgreSQL
    /// locked until commit, in customer order (SQLite has a single writer).
    static func accounts(_ customers: [String], on connection: any SQLConnection) throws -> [String: Account] {
        let statement = connection.dialect == .postgres ? lockedAccountRows : accountRows
        return try statement.fetch(Account.self, customers, key: \.customerId, on: connection)
    }

    private static let newPayments = MultiRowStatement(
        "INSERT INTO payments (state, amount_minor, currency, payment_id, refund_id, failure_reason, updated_at_ms, order_id, customer_id)",
        columns: 9, suffix: "ON CONFLICT (order_id) DO NOTHING")

    /// A new payment row (`UnitOfWork.insertNew`: false if the row appeared meanwhile, decide
    /// again), else an update conditional on the state decided from.
    static func write(_ record: PaymentRecord, from: PaymentState?, in unit: UnitOfWork) throws -> Bool {
        let values: [SQLValue] = [
            .text(record.state.rawValue), .optionalInteger(record.amount?.minorUnits), .optionalText(record.amount?.currency),
            .optionalText(record.paymentId), .optionalText(record.refundId),
            .optionalInteger(record.failureReason.map { Int64($0.rawValue) }), .integer(record.updatedAtUnixMs),
        ]
        guard let from else {
            return try unit.insertNew(values + [.text(record.orderId), .text(record.customerId)], with: newPayments, into: "payments")
        }
        return try unit.connection.execute("""
            UPDATE payments SET state = ?, amount_minor = ?, currency = ?, payment_id = ?, refund_id = ?, failure_reason = ?, updated_at_ms = ?
            WHERE order_id = ? AND state = ?
            """, values + [.text(record.orderId), .text(from.rawValue)]) == 1
    }

    /// Seeds accounts that are missing; never touches existing rows.
    static func seed(_ customers: [SeedCatalog.Customer], currency: String, on connection: any SQLConnection) throws -> Int {
        var inserted = 0
        for customer in customers {
            inserted += try connection.execute("""
                INSERT INTO accounts (customer_id, currency, initial_balance, balance, blocked) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (customer_id) DO NOTHING
                """, [.text(customer.customerId), .text(currency), .integer(customer.balance), .integer(customer.balance),
                      .integer(customer.blocked ? 1 : 0)])
        }
        return inserted
    }
}

extension PaymentRecord: RowDecodable {
    public init(row: SQLRow) throws {
        guard let orderId = row.string("order_id"), let state = row.string("state").flatMap(PaymentState.init(rawValue:)) else {
            throw SQLError.permanent("corrupt payments row: \(row)")
        }
        let amount = row.int("amount_minor").map { Saga_V1_Money(minorUnits: $0, currency: row.string("currency") ?? "") }
        self.init(
            orderId: orderId, customerId: row.string("customer_id") ?? "", state: state, amount: amount,
            paymentId: row.string("payment_id"), refundId: row.string("refund_id"),
            failureReason: row.int("failure_reason").flatMap { Saga_V1_PaymentFailureReason(rawValue: Int($0)) },
            updatedAtUnixMs: row.int("updated_at_ms") ?? 0)
    }
}

extension Account: RowDecodable {
    public init(row: SQLRow) throws {
        guard let customerId = row.string("customer_id") else { throw SQLError.permanent("corrupt accounts row: \(row)") }
        self.init(customerId: customerId, currency: row.string("currency") ?? "", balance: row.int("balance") ?? 0,
                  blocked: (row.int("blocked") ?? 0) != 0)
    }
}

extension AccountView: RowDecodable {
    public init(row: SQLRow) {
        self.init(customerId: row.string("customer_id") ?? "", currency: row.string("currency") ?? "",
                  initialBalance: row.int("initial_balance") ?? 0, balance: row.int("balance") ?? 0,
                  blocked: (row.int("blocked") ?? 0) != 0)
    }
}
