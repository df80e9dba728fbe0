import Foundation
import ServiceKit
import XCTest
@testable import DevClusterTesting

/// Notification's webhook channel against a receiver that fails the first two requests: the
/// notification is retried with the same Idempotency-Key until the receiver takes it, and is
/// recorded and announced (NotificationSent) once. Every request is signed (the receiver checks
/// the HMAC and answers 401 to a bad one), and a redirect is not followed.
final class WebhookDeliveryTests: XCTestCase {
    /// A receiver that checks each request's signature (401 when it does not hold), answers 503
    /// to its first `fails` good requests (or 307 to /elsewhere with `redirect`), then 200, and
    /// logs each request as `<path> <Idempotency-Key> <signature ok>`.
    static let receiver = #"""
        import hashlib, hmac, http.server, sys, time
        port, fails, log, secret, redirect = int(sys.argv[1]), int(sys.argv[2]), open(sys.argv[3], "a"), open(sys.argv[4], "rb").read().strip(), sys.argv[5] == "redirect"
        seen = [0]
        class Receiver(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                stamp = self.headers.get("Webhook-Timestamp", "")
                expected = "v1=" + hmac.new(secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
                ok = stamp.isdigit() and abs(time.time() - int(stamp)) < 300 and hmac.compare_digest(expected, self.headers.get("Webhook-Signature", ""))
                log.write("%s %s %s\n" % (self.path, self.headers.get("Idempotency-Key", ""), ok)); log.flush()
                if not ok:
                    status = 401
                elif redirect and self.path != "/elsewhere":
                    status = 307
                else:
                    seen[0] += 1
                    status = 503 if seen[0] <= fails else 200
                self.send_response(status)
                if status == 307: self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "0"); self.end_headers()
            def log_message(self, *args): pass
        http.server.HTTPServer(("127.0.0.1", port), Receiver).serve_forever()
        """#

    func testWebhookRetriesWithOneIdempotencyKeyAndAnnouncesOnce() throws {
        let (stack, log, receiver) = try start(fails: 2, redirect: false)
        defer { receiver.kill(); stack.stop() }
        let client = SagaClient(stack: stack)
        let id = try client.place(customer: "C-HAPPY", [.init(sku: "SKU-HAPPY", quantity: 1)])
        XCTAssertEqual(try client.waitForEnd(id)["status"] as? String, "CONFIRMED")
        let notifications = try client.waitForNotifications(id, timeout: 60)
        XCTAssertEqual(notifications.count, 1)
        let notificationId = try XCTUnwrap(notifications.first?["notificationId"] as? String)

        let requests = try String(contentsOf: log, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(requests, Array(repeating: "/notifications \(notificationId) True", count: 3),
                       "two refusals, then the delivery, all with one key and a valid signature")
        XCTAssertEqual(try client.metric(.notification, "notifications_delivered_total"), 1)
        XCTAssertFalse(stack.logs(.notification).contains("/notifications"), "the webhook URL reached the log")
    }

    /// A receiver that redirects gets no second request at the redirect's target: the
    /// notification stays undelivered (retried later) instead of following the body elsewhere.
    func testARedirectIsNotFollowed() throws {
        let (stack, log, receiver) = try start(fails: 0, redirect: true)
        defer { receiver.kill(); stack.stop() }
        let client = SagaClient(stack: stack)
        let id = try client.place(customer: "C-HAPPY", [.init(sku: "SKU-HAPPY", quantity: 1)])
        XCTAssertEqual(try client.waitForEnd(id)["status"] as? String, "CONFIRMED")
        let requests = try client.poll("three refused attempts", timeout: 60) { () -> [String]? in
            let lines = (try? String(contentsOf: log, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
            return lines.count >= 3 ? lines : nil
        }
        XCTAssertTrue(requests.allSatisfy { $0.hasPrefix("/notifications ") }, "a request went to the redirect's target: \(requests)")
        XCTAssertEqual(try client.metric(.notification, "notifications_delivered_total"), 0)
    }

    func testPlainHTTPAndAMissingSecretAreRefusedAtStart() throws {
        let secret = FileManager.default.temporaryDirectory.appendingPathComponent("webhook-secret-\(UUID().uuidString.prefix(8))")
        try Data(String(repeating: "s", count: 40).utf8).write(to: secret)
        for (arguments, message) in [
            (["--webhook-url", "http://127.0.0.1:9/n", "--webhook-secret-file", secret.path], "must be https"),
            (["--webhook-url", "https://example.invalid/n?token=hush"], "signs every request"),
        ] {
            let result = try ChildProcess.run(try SagaStack.binary("notification-service").path,
                                              ["--channel", "webhook", "--bootstrap", "127.0.0.1:1", "--jwks", "/nonexistent",
                                               "--signing-key-file", "/nonexistent", "--keyring-file", "/nonexistent"] + arguments, timeout: 30)
            XCTAssertNotEqual(result.status, 0)
            XCTAssertTrue(result.stderr.contains(message), result.stderr)
            XCTAssertFalse(result.stderr.contains("hush"), "the URL's token reached the error: \(result.stderr)")
        }
    }

    private func start(fails: Int, redirect: Bool) throws -> (SagaStack, URL, ChildProcess) {
        let port = try FreePorts.one()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("webhook-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let log = directory.appendingPathComponent("requests.log")
        XCTAssertTrue(FileManager.default.createFile(atPath: log.path, contents: nil))
        let secret = directory.appendingPathComponent("secret")
        try Data((0..<32).map { _ in "0123456789abcdef".randomElement()! }.map { $0.asciiValue! } + [0x0A]).write(to: secret)
        let receiver = try ChildProcess(executable: URL(fileURLWithPath: "/usr/bin/python3"),
                                        arguments: ["-c", Self.receiver, "\(port)", "\(fails)", log.path, secret.path,
                                                    redirect ? "redirect" : "-"], name: "receiver")
        let stack = try SagaStack(seed: SagaEndToEndTests.seed, notificationArguments: [
            "--channel", "webhook", "--webhook-url", "http://127.0.0.1:\(port)/notifications",
            "--webhook-allow-http", "true", "--webhook-secret-file", secret.path,
        ])
        return (stack, log, receiver)
    }
}
