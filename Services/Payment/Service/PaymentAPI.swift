import Hummingbird
import PaymentCore
import Persistence
import ServiceKit

/// GET /payments/{orderId}, /payments, /accounts/{customerId}, /accounts (Services/API.md).
struct PaymentAPI: Sendable {
    let database: any SQLDatabase

    struct PaymentView: Codable, Sendable {
        var orderId: String
        var customerId: String
        var state: String
        var amount: MoneyJSON?
        var paymentId: String?
        var refundId: String?
        var failureReason: String?
        var netCharge: Int64

        init(_ record: PaymentRecord) {
            orderId = record.orderId
            customerId = record.customerId
            state = record.state.rawValue
            amount = record.amount.map(MoneyJSON.init)
            paymentId = record.paymentId
            refundId = record.refundId
            failureReason = record.failureReason.map { "\($0)" }
            netCharge = record.netCharge
        }
    }

    struct AccountView: Codable, Sendable {
        var customerId: String
        var currency: String
        var initialBalance: Int64
        var balance: Int64
        var blocked: Bool

        init(_ row: SQLRow) {
            customerId = row.string("customer_id") ?? ""
            currency = row.string("currency") ?? ""
            initialBalance = row.int("initial_balance") ?? 0
            balance = row.int("balance") ?? 0
            blocked = (row.int("blocked") ?? 0) != 0
        }
    }

    func add(to router: Router<BasicRequestContext>) {
        router.get("/payments") { request, _ in
            let page = try PageRequest(request)
            let items = try await database.read { connection in
                try connection.query("SELECT * FROM payments WHERE order_id > ? ORDER BY order_id LIMIT ?",
                                     [.text(page.after ?? ""), .integer(Int64(page.limit + 1))])
                    .map { PaymentView(try PaymentStore.payment($0)) }
            }
            return try JSONResponse.make(Page(items: items, limit: page.limit, id: \.orderId))
        }
        router.get("/payments/:orderId") { _, context in
            let orderId = context.parameters.get("orderId") ?? ""
            guard let record = try await database.read({ try PaymentStore.payment(orderId, on: $0) }) else {
                throw Problem.notFound("no payment for order \(orderId)")
            }
            return try JSONResponse.make(PaymentView(record))
        }
        router.get("/accounts") { request, _ in
            let page = try PageRequest(request)
            let items = try await database.read { connection in
                try connection.query("SELECT * FROM accounts WHERE customer_id > ? ORDER BY customer_id LIMIT ?",
                                     [.text(page.after ?? ""), .integer(Int64(page.limit + 1))]).map(AccountView.init)
            }
            return try JSONResponse.make(Page(items: items, limit: page.limit, id: \.customerId))
        }
        router.get("/accounts/:customerId") { _, context in
            let customerId = context.parameters.get("customerId") ?? ""
            guard let item = try await database.read({
                try $0.query("SELECT * FROM accounts WHERE customer_id = ?", [.text(customerId)]).first.map(AccountView.init)
            }) else {
                throw Problem.notFound("no account for customer \(customerId)")
            }
            return try JSONResponse.make(item)
        }
    }
}
