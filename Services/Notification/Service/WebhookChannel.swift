import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import Messaging
import NotificationCore

/// POSTs each notification as JSON to a URL with `Idempotency-Key: <notificationId>`, so the
/// receiver can drop the copies at-least-once delivery produces. A 2xx answer is delivered;
/// anything else (other statuses, timeouts, refused connections) is retried a few times here
/// with exponential backoff and jitter, then thrown: the worker keeps the row PENDING and tries
/// again later with a longer backoff. Nothing is ever dropped, a 4xx included: a misconfigured
/// receiver shows up in `notifications_delivery_failures_total` and the logs, and the backlog
/// goes out once it is fixed.
struct WebhookChannel: NotificationChannel {
    let url: URL
    let logger: Logger
    let kind = ChannelKind.webhook
    let concurrency = 16
    let requestTimeout = Duration.seconds(5)
    let attemptsPerDelivery = 3
    let retry = RetryPolicy(initialDelay: .milliseconds(200), maximumDelay: .seconds(2))
    private let session: URLSession

    init(url: URL, logger: Logger) {
        self.url = url
        self.logger = logger
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = Double(requestTimeout.components.seconds)
        configuration.httpMaximumConnectionsPerHost = 16
        session = URLSession(configuration: configuration)
    }

    var maximumDeliveryTime: Duration {
        (requestTimeout + retry.maximumDelay) * attemptsPerDelivery
    }

    func deliver(_ record: NotificationRecord) async throws {
        var request = URLRequest(url: url, timeoutInterval: Double(requestTimeout.components.seconds))
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(record.notificationId, forHTTPHeaderField: "Idempotency-Key")
        request.httpBody = try DeliveredNotification(record, channel: kind).json()
        var attempt = 0
        while true {
            attempt += 1
            do {
                try await post(request)
                return
            } catch {
                guard attempt < attemptsPerDelivery, !Task.isCancelled else { throw error }
                logger.debug("webhook attempt failed; retrying", metadata: [
                    "notification-id": "\(record.notificationId)", "attempt": "\(attempt)", "error": "\(error)"])
                try await Task.sleep(for: retry.delay(attempt: attempt))
            }
        }
    }

    private func post(_ request: URLRequest) async throws {
        let (data, response) = try await session.data(for: request)
        guard let http = response as? HTTPURLResponse else { throw WebhookError(status: nil, body: "") }
        guard (200..<300).contains(http.statusCode) else {
            throw WebhookError(status: http.statusCode, body: String(decoding: data.prefix(200), as: UTF8.self))
        }
    }
}

struct WebhookError: Error, CustomStringConvertible {
    let status: Int?
    let body: String

    var description: String {
        guard let status else { return "the webhook answered without an HTTP response" }
        return body.isEmpty ? "the webhook answered \(status)" : "the webhook answered \(status): \(body)"
    }
}
