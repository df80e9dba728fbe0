import Crypto
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import Messaging
import NotificationCore

/// POSTs each notification as JSON to a URL with `Idempotency-Key: <notificationId>`, so the
/// receiver can drop the copies at-least-once delivery produces, signed so that it can tell the
/// request came from here: `Webhook-Timestamp` (Unix seconds) and `Webhook-Signature:
/// v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` (a receiver rejects old timestamps to
/// stop replays). Redirects are not followed: the body and its signature go to the configured
/// URL or nowhere. The URL never reaches a log line or an error. A 2xx answer is delivered;
/// anything else (other statuses, timeouts, refused connections) is retried a few times here
/// with exponential backoff and jitter, then thrown: the worker keeps the row PENDING and tries
/// again later with a longer backoff. Nothing is ever dropped, a 4xx included: a misconfigured
/// receiver shows up in `notifications_delivery_failures_total` and the logs, and the backlog
/// goes out once it is fixed.
struct WebhookChannel: NotificationChannel {
    let url: URL
    let secret: SymmetricKey
    let logger: Logger
    let kind = ChannelKind.webhook
    let concurrency = 16
    let requestTimeout = Duration.seconds(5)
    let attemptsPerDelivery = 3
    let retry = RetryPolicy(initialDelay: .milliseconds(200), maximumDelay: .seconds(2))
    private let session: URLSession

    init(url: URL, secret: [UInt8], logger: Logger) {
        self.url = url
        self.secret = SymmetricKey(data: secret)
        self.logger = logger
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = Double(requestTimeout.components.seconds)
        configuration.httpMaximumConnectionsPerHost = 16
        session = URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
    }

    /// The two headers that prove a request came from this service, for `body` sent at `timestamp`.
    static func signature(body: Data, timestamp: Int64, secret: SymmetricKey) -> (timestamp: String, signature: String) {
        var signed = Data("\(timestamp).".utf8)
        signed.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: secret)
        return ("\(timestamp)", "v1=" + mac.map { String(format: "%02x", $0) }.joined())
    }

    var maximumDeliveryTime: Duration {
        (requestTimeout + retry.maximumDelay) * attemptsPerDelivery
    }

    func deliver(_ record: NotificationRecord) async throws {
        var request = URLRequest(url: url, timeoutInterval: Double(requestTimeout.components.seconds))
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(record.notificationId, forHTTPHeaderField: "Idempotency-Key")
        let body = try DeliveredNotification(record, channel: kind).json()
        request.httpBody = body
        var attempt = 0
        while true {
            attempt += 1
            // Signed at each attempt: a retry carries a fresh timestamp.
            let signed = Self.signature(body: body, timestamp: Int64(Date().timeIntervalSince1970), secret: secret)
            request.setValue(signed.timestamp, forHTTPHeaderField: "Webhook-Timestamp")
            request.setValue(signed.signature, forHTTPHeaderField: "Webhook-Signature")
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
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch let error as URLError {
            // URLError's text names the URL: keep the code only.
            throw WebhookError(status: nil, body: "", transport: "URL error \(error.code.rawValue)")
        } catch {
            throw WebhookError(status: nil, body: "", transport: "\(type(of: error))")
        }
        guard let http = response as? HTTPURLResponse else { throw WebhookError(status: nil, body: "") }
        guard (200..<300).contains(http.statusCode) else {
            throw WebhookError(status: http.statusCode, body: String(decoding: data.prefix(200), as: UTF8.self))
        }
    }
}

struct WebhookError: Error, CustomStringConvertible {
    let status: Int?
    let body: String
    var transport: String? = nil

    var description: String {
        if let transport { return "the webhook request failed: \(transport)" }
        guard let status else { return "the webhook answered without an HTTP response" }
        return body.isEmpty ? "the webhook answered \(status)" : "the webhook answered \(status): \(body)"
    }
}

/// Answers every redirect with "do not follow": a 3xx is then an answer like any other non-2xx.
private final class NoRedirects: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        completionHandler(nil)
    }
}
