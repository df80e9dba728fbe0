import ArgumentParser
import Foundation

/// Base URLs of the four services; defaults are the loopback ports of Services/API.md.
struct ServiceURLOptions: ParsableArguments {
    @Option(help: "Order service base URL (or env ORDER_URL).") var orderUrl: String?
    @Option(help: "Inventory service base URL (or env INVENTORY_URL).") var inventoryUrl: String?
    @Option(help: "Payment service base URL (or env PAYMENT_URL).") var paymentUrl: String?
    @Option(help: "Notification service base URL (or env NOTIFICATION_URL).") var notificationUrl: String?

    func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServiceURLs {
        func pick(_ flag: String?, _ variable: String, _ port: Int, _ option: String) throws -> String {
            let url = flag ?? environment[variable].nonEmpty ?? "http://127.0.0.1:\(port)"
            guard let parsed = URL(string: url), let scheme = parsed.scheme, ["http", "https"].contains(scheme),
                  parsed.host != nil else {
                throw ValidationError("\(option) must be an http(s) URL like http://127.0.0.1:\(port), got '\(url)'")
            }
            return url.hasSuffix("/") ? String(url.dropLast()) : url
        }
        return ServiceURLs(
            order: try pick(orderUrl, "ORDER_URL", 8080, "--order-url"),
            inventory: try pick(inventoryUrl, "INVENTORY_URL", 8081, "--inventory-url"),
            payment: try pick(paymentUrl, "PAYMENT_URL", 8082, "--payment-url"),
            notification: try pick(notificationUrl, "NOTIFICATION_URL", 8083, "--notification-url"))
    }
}

/// Resolved base URLs, without a trailing slash.
struct ServiceURLs: Sendable, Codable, Equatable {
    var order: String
    var inventory: String
    var payment: String
    var notification: String

    /// The services whose /metrics the audit scrapes, by service name.
    var all: [(name: String, url: String)] {
        [("order", order), ("inventory", inventory), ("payment", payment), ("notification", notification)]
    }
}
