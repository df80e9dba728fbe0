import Foundation

/// What came back from `POST /orders`.
enum PlaceOrderResult: Sendable, Equatable {
    /// 202: the order exists; `replayed` when the service answered from its idempotency record.
    case accepted(orderId: String, replayed: Bool)
    /// Any other HTTP status, with the problem text.
    case rejected(status: Int, detail: String)
    /// No HTTP answer (connection refused, timeout).
    case failed(String)
}

/// The Order service's write side, behind a protocol so the sender can be tested without a server.
protocol OrderPlacing: Sendable {
    func place(_ order: OrderRequest, idempotencyKey: String?) async -> PlaceOrderResult
}

/// `POST /orders` over HTTP (Services/API.md), as the order's customer (its own token).
struct HTTPOrderPlacing: OrderPlacing {
    let http: ServiceHTTPClient
    let baseURL: String
    let credentials: LoadCredentials

    func place(_ order: OrderRequest, idempotencyKey: String?) async -> PlaceOrderResult {
        struct Accepted: Decodable { let orderId: String }
        let body = try! JSONEncoder().encode(order) // plain strings and integers: cannot fail
        var headers: [(String, String)] = []
        if let idempotencyKey { headers.append(("Idempotency-Key", idempotencyKey)) }
        let reply: HTTPReply
        do {
            let token = try await credentials.customerToken(order.customerId)
            reply = try await http.send(.POST, baseURL + "/orders", headers: headers, body: Array(body), token: token)
        } catch {
            return .failed("\(error)")
        }
        guard reply.status == 202 else { return .rejected(status: reply.status, detail: problemText(reply.body)) }
        guard let accepted = try? JSONDecoder().decode(Accepted.self, from: Data(reply.body)) else {
            return .rejected(status: reply.status, detail: "202 without an orderId in the body")
        }
        return .accepted(orderId: accepted.orderId, replayed: reply.headers["idempotent-replayed"] == "true")
    }
}
