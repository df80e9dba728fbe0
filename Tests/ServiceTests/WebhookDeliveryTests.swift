import Foundation
import ServiceKit
import XCTest
@testable import DevClusterTesting

/// Notification's webhook channel against a receiver that fails the first two requests: the
/// notification is retried with the same Idempotency-Key until the receiver takes it, and is
/// recorded and announced (NotificationSent) once.
final class WebhookDeliveryTests: XCTestCase {
    /// A receiver that answers 503 to its first `fails` requests, then 200, and logs each
    /// request's Idempotency-Key.
    static let receiver = #"""
        import http.server, sys
        port, fails, log = int(sys.argv[1]), int(sys.argv[2]), open(sys.argv[3], "a")
        seen = [0]
        class Receiver(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                seen[0] += 1
                log.write(self.headers.get("Idempotency-Key", "") + "\n"); log.flush()
                self.send_response(503 if seen[0] <= fails else 200)
                self.send_header("Content-Length", "0"); self.end_headers()
            def log_message(self, *args): pass
        http.server.HTTPServer(("127.0.0.1", port), Receiver).serve_forever()
        """#

    func testWebhookRetriesWithOneIdempotencyKeyAndAnnouncesOnce() throws {
        let port = try SagaStack.freePort()
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("webhook-\(UUID().uuidString.prefix(8)).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let receiver = try ChildProcess(executable: URL(fileURLWithPath: "/usr/bin/python3"),
                                        arguments: ["-c", Self.receiver, "\(port)", "2", log.path], name: "receiver")
        defer { receiver.kill() }

        let stack = try SagaStack(seed: SagaEndToEndTests.seed, notificationArguments: [
            "--channel", "webhook", "--webhook-url", "http://127.0.0.1:\(port)/notifications",
        ])
        defer { stack.stop() }
        let client = SagaClient(stack: stack)
        let id = try client.place(customer: "C-HAPPY", [.init(sku: "SKU-HAPPY", quantity: 1)])
        XCTAssertEqual(try client.waitForEnd(id)["status"] as? String, "CONFIRMED")
        let notifications = try client.waitForNotifications(id, timeout: 60)
        XCTAssertEqual(notifications.count, 1)
        let notificationId = try XCTUnwrap(notifications.first?["notificationId"] as? String)

        let keys = try String(contentsOf: log, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(keys, Array(repeating: notificationId, count: 3), "two refusals, then the delivery, all with one key")
        XCTAssertEqual(try client.metric(.notification, "notifications_delivered_total"), 1)
    }
}
