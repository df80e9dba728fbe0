import Foundation
import Hummingbird
import OrderCore
import ServiceKit
import SagaAPI

/// The body of POST /orders. Fields are optional here so that a missing one is reported with
/// the domain's validation errors (422, all at once) rather than as a parse error.
struct PlaceOrderBody: Decodable {
    struct Line: Decodable {
        var sku: String?
        var quantity: Int?
    }

    var customerId: String?
    var currency: String?
    var lines: [Line]?

    static let maxBytes = 64 * 1024

    /// Parses the request or throws the problem that says what is wrong with it.
    static func parse(_ request: Request) async throws -> PlaceOrderBody {
        if let type = request.headers[.contentType], !type.lowercased().hasPrefix("application/json") {
            throw Problem(status: 415, title: "Unsupported Media Type", detail: "send the order as application/json, not \(type)")
        }
        var request = request
        let buffer = try await request.collectBody(upTo: maxBytes)
        guard buffer.readableBytes > 0 else { throw Problem.badRequest("the request has no body; send the order as JSON") }
        do {
            return try JSONDecoder().decode(PlaceOrderBody.self, from: Data(buffer.readableBytesView))
        } catch let DecodingError.dataCorrupted(context) where context.codingPath.isEmpty {
            throw Problem.badRequest("the body is not valid JSON: \(context.debugDescription)")
        } catch let error as DecodingError {
            throw Problem.badRequest("the body does not match the order format: \(describe(error))")
        } catch {
            throw Problem.badRequest("the body is not valid JSON: \(error)")
        }
    }

    func command(orderId: String) -> PlaceOrder {
        PlaceOrder(orderId: orderId, customerId: customerId ?? "", currency: currency,
                   lines: (lines ?? []).map { PlaceOrder.Line(sku: $0.sku ?? "", quantity: $0.quantity ?? 0) })
    }

    /// What makes two requests with one Idempotency-Key "the same body": the parsed order,
    /// not its bytes (key order and whitespace do not matter).
    var fingerprint: String {
        let lineText = (lines ?? []).map { "\($0.sku ?? "")*\($0.quantity ?? 0)" }.joined(separator: ",")
        return "\(customerId ?? "")|\(currency ?? "")|\(lineText)"
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            "/" + codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: "/")
        }
        switch error {
        case let .typeMismatch(type, context): return "\(path(context.codingPath)) must be \(type)"
        case let .valueNotFound(type, context): return "\(path(context.codingPath)) must be \(type), not null"
        case let .keyNotFound(key, context): return "\(path(context.codingPath + [key])) is missing"
        case let .dataCorrupted(context): return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

extension OrderValidationFailure {
    var problem: Problem {
        .unprocessable("the order is invalid: \(description)", errors: errors.map {
            Problem.FieldError(pointer: $0.pointer ?? "", detail: $0.description)
        })
    }
}
