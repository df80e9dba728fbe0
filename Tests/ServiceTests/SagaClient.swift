import Foundation
import ServiceKit
import XCTest

/// The calls the end-to-end tests make against a running stack, with waits that poll the
/// public APIs (never a fixed sleep standing in for "it should be done by now").
struct SagaClient {
    let stack: SagaStack

    struct Line {
        let sku: String
        let quantity: Int
    }

    func body(customer: String, lines: [Line]) -> String {
        let items = lines.map { #"{"sku": "\#($0.sku)", "quantity": \#($0.quantity)}"# }.joined(separator: ", ")
        return #"{"customerId": "\#(customer)", "currency": "EUR", "lines": [\#(items)]}"#
    }

    /// POST /orders; returns the order id of a 202.
    func place(customer: String, _ lines: [Line], key: String? = nil,
               file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let response = try HTTP.post(stack.url(.order, "/orders"), json: body(customer: customer, lines: lines),
                                     headers: key.map { ["Idempotency-Key": $0] } ?? [:], token: stack.customerToken(customer))
        XCTAssertEqual(response.status, 202, response.text, file: file, line: line)
        guard let id = try response.json()["orderId"] as? String else {
            throw SagaStack.Failure(description: "no orderId in \(response)")
        }
        return id
    }

    func order(_ id: String) throws -> [String: Any] {
        try HTTP.get(stack.url(.order, "/orders/\(id)"), token: stack.operatorToken).json()
    }

    /// Polls GET /orders/{id} until the order left PENDING.
    func waitForEnd(_ id: String, timeout: TimeInterval = 60) throws -> [String: Any] {
        try poll("order \(id) to end", timeout: timeout) {
            let order = try order(id)
            return order["status"] as? String == "PENDING" ? nil : order
        }
    }

    /// Polls until the order has `count` notifications.
    func waitForNotifications(_ id: String, count: Int = 1, timeout: TimeInterval = 30) throws -> [[String: Any]] {
        try poll("\(count) notification(s) of \(id)", timeout: timeout) {
            let items = try HTTP.get(stack.url(.notification, "/notifications?orderId=\(id)"), token: stack.operatorToken)
                .json()["items"] as? [[String: Any]] ?? []
            return items.filter { $0["state"] as? String == "SENT" }.count >= count ? items : nil
        }
    }

    func stock(_ sku: String) throws -> [String: Int64] {
        let item = try HTTP.get(stack.url(.inventory, "/stock/\(sku)"), token: stack.operatorToken).json()
        return item.compactMapValues { ($0 as? NSNumber)?.int64Value }
    }

    func account(_ customer: String) throws -> [String: Any] {
        try HTTP.get(stack.url(.payment, "/accounts/\(customer)"), token: stack.operatorToken).json()
    }

    func balance(_ customer: String) throws -> Int64 {
        (try account(customer)["balance"] as? NSNumber)?.int64Value ?? -1
    }

    func payment(_ orderId: String) throws -> HTTP.Result {
        try HTTP.get(stack.url(.payment, "/payments/\(orderId)"), token: stack.operatorToken)
    }

    func reservation(_ orderId: String) throws -> HTTP.Result {
        try HTTP.get(stack.url(.inventory, "/reservations/\(orderId)"), token: stack.operatorToken)
    }

    /// Sum of one metric's samples whose labels contain every pair of `labels`.
    func metric(_ service: ServiceName, _ name: String, _ labels: [String: String] = [:]) throws -> Double {
        let text = try HTTP.get(stack.url(service, "/metrics"), token: stack.operatorToken).text
        var sum = 0.0
        for line in text.split(separator: "\n") where line.hasPrefix(name + "{") || line.hasPrefix(name + " ") {
            guard labels.allSatisfy({ line.contains("\($0.key)=\"\($0.value)\"") }),
                  let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            sum += value
        }
        return sum
    }

    func poll<T>(_ what: String, timeout: TimeInterval, interval: useconds_t = 100_000, _ probe: () throws -> T?) throws -> T {
        let deadline = Date().addingTimeInterval(timeout)
        var lastError: (any Error)?
        while Date() < deadline {
            do {
                if let value = try probe() { return value }
            } catch {
                lastError = error
            }
            usleep(interval)
        }
        throw SagaStack.Failure(description: "timed out after \(timeout) s waiting for \(what)\(lastError.map { " (last error: \($0))" } ?? "")")
    }
}
