import Hummingbird
import PaymentCore
import Persistence
import ServiceKit
import SagaAPI

/// GET /payments/{orderId}, /payments, /accounts/{customerId}, /accounts (Services/API.md).
///
/// A customer sees its own payments and account only (another's answers 404); the account
/// listing is for operators and the auditor.
struct PaymentAPI: Sendable {
    let database: any SQLDatabase

    func add(to routes: EdgeRoutes) {
        routes.get("/payments", .requires(.customer, .operator, .auditor)) { request, _, caller in
            let page = try PageRequest(request)
            let items = try await database.read { connection in
                try PaymentStore.paymentPage(after: page.after ?? "", limit: page.limit + 1, customer: caller.listingScope, on: connection)
                    .map(PaymentView.init)
            }
            return try JSONResponse.make(Page(items: items, limit: page.limit, id: \.orderId))
        }
        routes.get("/payments/:orderId", .requires(.customer, .operator, .auditor)) { _, context, caller in
            let orderId = context.parameters.get("orderId") ?? ""
            guard let record = try await database.read({ try PaymentStore.payment(orderId, on: $0) }),
                  caller.mayRead(customer: record.customerId) else {
                throw Problem.notFound("no payment for order \(orderId)")
            }
            return try JSONResponse.make(PaymentView(record))
        }
        routes.get("/accounts", .staff) { request, _, _ in
            let page = try PageRequest(request)
            let items = try await database.read { connection in
                try PaymentStore.accountPage(after: page.after ?? "", limit: page.limit + 1, on: connection)
            }
            return try JSONResponse.make(Page(items: items, limit: page.limit, id: \.customerId))
        }
        routes.get("/accounts/:customerId", .requires(.customer, .operator, .auditor)) { _, context, caller in
            let customerId = context.parameters.get("customerId") ?? ""
            guard caller.mayRead(customer: customerId),
                  let item = try await database.read({ try PaymentStore.accountView(customerId, on: $0) }) else {
                throw Problem.notFound("no account for customer \(customerId)")
            }
            return try JSONResponse.make(item)
        }
    }
}

extension PaymentView {
    init(_ record: PaymentRecord) {
        self.init(orderId: record.orderId, customerId: record.customerId, state: record.state.rawValue,
                  amount: record.amount.map(Money.init), paymentId: record.paymentId, refundId: record.refundId,
                  failureReason: record.failureReason.map { "\($0)" }, netCharge: record.netCharge)
    }
}
