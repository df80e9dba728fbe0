import Credentials
import EventSchema
import Foundation
import Hummingbird
import HummingbirdTesting
import Persistence
import SagaAPI
import ServiceKit
import XCTest
@testable import NotificationService

/// The HTTP edge attacked in process: every route has a policy, no token or a bad one is 401,
/// a customer sees and places only its own orders, keys are per caller, error bodies carry no
/// internals, and a caller over its rate gets 429.
final class EdgeSecurityTests: XCTestCase {
    var fixture: EdgeFixture!

    override func setUp() async throws {
        fixture = try EdgeFixture()
    }

    /// The route test: a route added without a policy is found (the tripwire below proves the
    /// check can fail), and none of the four services has one.
    func testEveryRouteOfEveryServiceHasAPolicy() async throws {
        let fixture = self.fixture!
        for (service, routes) in try await fixture.allRoutes() {
            XCTAssertTrue(!(routes.policies.isEmpty), "\(service)")
            XCTAssertTrue(routes.routesWithoutPolicy() == [], "\(service) serves routes without a policy")
        }
        let order = try await fixture.order()
        order.router.get("/backdoor") { _, _ in "everything" }
        XCTAssertTrue(order.routes.routesWithoutPolicy().map(\.description) == ["GET /backdoor"])
    }

    /// No token, and each kind of bad token, on every closed route of every service: 401, and
    /// nothing of the service's data in the body.
    func testEveryClosedRouteRefusesCallersWithoutAValidToken() async throws {
        let fixture = self.fixture!
        let forged = try await TokenIssuer(keyId: fixture.tokens.keyId, key: .init(), issuer: "order-saga", audience: "order-saga")
            .token(subject: "C-A", roles: [.operator])
        let expired = try await fixture.tokens.token(subject: "C-A", roles: [.operator], lifetime: .seconds(60),
                                                     now: Date().addingTimeInterval(-7200))
        let none = Base64URL.encode(Array(#"{"alg":"none","kid":"\#(fixture.tokens.keyId)"}"#.utf8)) + "."
            + Base64URL.encode(Array(#"{"iss":"order-saga","sub":"x","aud":"order-saga","exp":9999999999,"roles":["operator"]}"#.utf8)) + "."
        let badTokens: [String?] = [nil, "", "garbage", forged, expired, none]
        var attacked = 0
        for (service, routes) in try await fixture.allRoutes() {
            attacked += routes.policies.values.filter { !$0.isOpen }.count
            let app = Application(router: routes.router)
            try await app.test(.router) { client in
                for (route, policy) in routes.policies where !policy.isOpen {
                    let uri = route.path.replacingOccurrences(of: "{id}", with: "x").replacingOccurrences(of: "{orderId}", with: "x")
                        .replacingOccurrences(of: "{customerId}", with: "C-A").replacingOccurrences(of: "{sku}", with: "SKU-1")
                        .replacingOccurrences(of: ":id", with: "x").replacingOccurrences(of: ":orderId", with: "x")
                        .replacingOccurrences(of: ":customerId", with: "C-A").replacingOccurrences(of: ":sku", with: "SKU-1")
                    for token in badTokens {
                        let response = try await call(client, route.method, uri, token: token,
                                                      json: route.method == .post ? #"{"customerId":"C-A","currency":"EUR","lines":[{"sku":"SKU-1","quantity":1}]}"# : nil)
                        XCTAssertTrue(response.status == .unauthorized, "\(service) \(route) with \(token.map { String($0.prefix(20)) } ?? "no token")")
                        XCTAssertTrue(response.headers[.wwwAuthenticate] != nil, "\(service) \(route)")
                        XCTAssertTrue(!(response.text.contains("C-A") || response.text.contains("SKU-1")), response.text)
                    }
                }
                // The probes stay open.
                let response1 = try await call(client, .get, "/healthz")
                XCTAssertTrue(response1.status == .ok, "\(service)")
            }
        }
        XCTAssertGreaterThanOrEqual(attacked, 21, "every closed route of the four services was attacked")
    }

    func testACustomerSeesOnlyItsOwnOrdersAndAnotherCustomersAre404() async throws {
        let fixture = self.fixture!
        let order = try await fixture.order()
        let (a, b) = (try await fixture.token([.customer], "C-A"), try await fixture.token([.customer], "C-B"))
        let staff = try await fixture.token([.auditor], "audit")
        try await order.app.test(.router) { client in
            let placed = try await call(client, .post, "/orders", token: a, json: Self.body("C-A"))
            XCTAssertTrue(placed.status == .accepted, placed.text)
            let id = try XCTUnwrap(try placed.json()["orderId"] as? String)
            let response2 = try await call(client, .get, "/orders/\(id)", token: a)
            XCTAssertTrue(response2.status == .ok)
            let theirs = try await call(client, .get, "/orders/\(id)", token: b)
            XCTAssertTrue(theirs.status == .notFound, "another customer's order is not there for B")
            let missing = try await call(client, .get, "/orders/no-such-order", token: b)
            XCTAssertEqual(theirs.text, missing.text.replacingOccurrences(of: "no-such-order", with: id),
                           "indistinguishable from an order that does not exist")
            let listedForB = try await call(client, .get, "/orders", token: b)
            XCTAssertTrue((try listedForB.json()["items"] as? [Any])?.count == 0, listedForB.text)
            let listedForA = try await call(client, .get, "/orders", token: a)
            XCTAssertTrue((try listedForA.json()["items"] as? [[String: Any]])?.map { $0["orderId"] as? String } == [id])
            let response3 = try await call(client, .get, "/orders/\(id)", token: staff)
            XCTAssertTrue(response3.status == .ok, "the auditor reads every order")
        }
    }

    func testACustomerPostingForAnotherIs403AndNothingIsWritten() async throws {
        let fixture = self.fixture!
        let order = try await fixture.order()
        let a = try await fixture.token([.customer], "C-A")
        try await order.app.test(.router) { client in
            let response = try await call(client, .post, "/orders", token: a, json: Self.body("C-B"))
            XCTAssertTrue(response.status == .forbidden, response.text)
            let operatorOrders = try await call(client, .post, "/orders", token: try await fixture.token([.operator], "op"), json: Self.body("C-B"))
            XCTAssertTrue(operatorOrders.status == .forbidden, "only customers place orders")
        }
        let rows = try await order.database.read { connection in
            (try connection.query("SELECT COUNT(*) AS n FROM orders").first?.int("n") ?? -1,
             try connection.query("SELECT COUNT(*) AS n FROM outbox").first?.int("n") ?? -1)
        }
        XCTAssertTrue(rows.0 == 0, "no order row")
        XCTAssertTrue(rows.1 == 0, "no event in the outbox")
    }

    /// One caller's Idempotency-Key is its own: another caller using the same key places its own
    /// order and learns nothing of the first.
    func testIdempotencyKeysBelongToTheCallerThatSentThem() async throws {
        let fixture = self.fixture!
        let order = try await fixture.order()
        let (a, b) = (try await fixture.token([.customer], "C-A"), try await fixture.token([.customer], "C-B"))
        try await order.app.test(.router) { client in
            let key: HTTPFields = [HeaderNames.idempotencyKey: "shared-key-1"]
            let first = try await call(client, .post, "/orders", token: a, json: Self.body("C-A"), headers: key)
            let firstId = try XCTUnwrap(try first.json()["orderId"] as? String)
            let again = try await call(client, .post, "/orders", token: a, json: Self.body("C-A"), headers: key)
            XCTAssertTrue(try again.json()["orderId"] as? String == firstId, "the same caller and body replay the order")
            let other = try await call(client, .post, "/orders", token: b, json: Self.body("C-B", quantity: 3), headers: key)
            XCTAssertTrue(other.status == .accepted, other.text)
            XCTAssertTrue(try other.json()["orderId"] as? String != firstId, "B's key is not A's")
            let conflict = try await call(client, .post, "/orders", token: a, json: Self.body("C-A", quantity: 2), headers: key)
            XCTAssertTrue(conflict.status == .conflict)
            XCTAssertTrue(!(conflict.text.contains(firstId)), "a 409 does not name the order: \(conflict.text)")
        }
    }

    func testACallerOverItsRateGets429WithRetryAfterAndOthersAreNotSlowed() async throws {
        let fixture = self.fixture!
        let order = try await fixture.order(ratePerCaller: 2)  // burst 4
        let (a, b) = (try await fixture.token([.customer], "C-A"), try await fixture.token([.customer], "C-B"))
        try await order.app.test(.router) { client in
            var statuses: [HTTPResponse.Status] = []
            var retryAfter: String?
            for _ in 0..<8 {
                let response = try await call(client, .post, "/orders", token: a, json: Self.body("C-A"))
                statuses.append(response.status)
                if response.status == .tooManyRequests { retryAfter = response.headers[.retryAfter] }
            }
            XCTAssertTrue(statuses.filter { $0 == .accepted }.count == 4, "\(statuses)")
            XCTAssertTrue(statuses.filter { $0 == .tooManyRequests }.count == 4, "\(statuses)")
            XCTAssertTrue(retryAfter == "1")
            let response4 = try await call(client, .post, "/orders", token: b, json: Self.body("C-B"))
            XCTAssertTrue(response4.status == .accepted)
        }
        let placed = try await order.database.read { try $0.query("SELECT COUNT(*) AS n FROM orders").first?.int("n") }
        XCTAssertTrue(placed == 5, "a refused request writes nothing; each accepted one is an order")
    }

    func testOnlyJSONIsAcceptedAndBadInputSaysWhatToFix() async throws {
        let fixture = self.fixture!
        let order = try await fixture.order()
        let a = try await fixture.token([.customer], "C-A")
        try await order.app.test(.router) { client in
            let form = try await call(client, .post, "/orders", token: a, json: "customerId=C-A", headers: [.contentType: "application/x-www-form-urlencoded"])
            XCTAssertTrue(form.status == .unsupportedMediaType)
            let missing = try await call(client, .post, "/orders", token: a, json: #"{"customerId":"C-A"}"#)
            XCTAssertTrue(missing.status == .unprocessableContent, missing.text)
        }
    }

    /// A database error reaches the log with a reference, and the caller only the reference.
    func testErrorBodiesCarryNoSQLPathsOrConnectionDetails() async throws {
        let fixture = self.fixture!
        let order = try await fixture.order()
        let staff = try await fixture.token([.operator], "op")
        await order.database.close()
        try await order.app.test(.router) { client in
            let response = try await call(client, .get, "/orders", token: staff)
            XCTAssertTrue([.internalServerError, .serviceUnavailable].contains(response.status), "\(response.status)")
            let body = response.text.lowercased()
            for secret in ["sqlite", "sql", ".db", fixture.directory.path.lowercased(), "grdb", "error:"] {
                XCTAssertTrue(!(body.contains(secret)), "the body names '\(secret)': \(response.text)")
            }
            XCTAssertTrue(body.contains("reference"), response.text)
        }
    }

    func testPaymentsAndAccountsAreTheCustomersOwn() async throws {
        let fixture = self.fixture!
        let payment = try await fixture.payment()
        try await payment.database.write { connection in
            _ = try connection.execute("""
                INSERT INTO payments (order_id, customer_id, state, updated_at_ms) VALUES ('order-of-a', 'C-A', 'CHARGED', 0)
                """)
        }
        let (a, b) = (try await fixture.token([.customer], "C-A"), try await fixture.token([.customer], "C-B"))
        try await payment.app.test(.router) { client in
            let response5 = try await call(client, .get, "/payments/order-of-a", token: a)
            XCTAssertTrue(response5.status == .ok)
            let response6 = try await call(client, .get, "/payments/order-of-a", token: b)
            XCTAssertTrue(response6.status == .notFound)
            let response7 = try await call(client, .get, "/accounts/C-A", token: a)
            XCTAssertTrue(response7.status == .ok)
            let response8 = try await call(client, .get, "/accounts/C-A", token: b)
            XCTAssertTrue(response8.status == .notFound)
            let response9 = try await call(client, .get, "/accounts", token: a)
            XCTAssertTrue(response9.status == .forbidden, "the account listing is for staff")
            let listing = try await call(client, .get, "/payments", token: b)
            XCTAssertTrue((try listing.json()["items"] as? [Any])?.count == 0, listing.text)
            let response10 = try await call(client, .get, "/accounts", token: try await fixture.token([.auditor], "audit"))
            XCTAssertTrue(response10.status == .ok)
        }
    }

    func testStockAndReservationsAreForStaffAndTheOwner() async throws {
        let fixture = self.fixture!
        let inventory = try await fixture.inventory()
        try await inventory.database.write { connection in
            _ = try connection.execute("""
                INSERT INTO reservations (order_id, customer_id, state, lines, updated_at_ms) VALUES ('order-of-a', 'C-A', 'RESERVED', '[]', 0)
                """)
        }
        let (a, b) = (try await fixture.token([.customer], "C-A"), try await fixture.token([.customer], "C-B"))
        try await inventory.app.test(.router) { client in
            let response11 = try await call(client, .get, "/reservations/order-of-a", token: a)
            XCTAssertTrue(response11.status == .ok)
            let response12 = try await call(client, .get, "/reservations/order-of-a", token: b)
            XCTAssertTrue(response12.status == .notFound)
            let response13 = try await call(client, .get, "/stock", token: a)
            XCTAssertTrue(response13.status == .forbidden)
            let response14 = try await call(client, .get, "/reservations", token: a)
            XCTAssertTrue(response14.status == .forbidden)
            let response15 = try await call(client, .get, "/stock/SKU-1", token: try await fixture.token([.operator], "op"))
            XCTAssertTrue(response15.status == .ok)
        }
    }

    func testNotificationsAreTheCustomersOwn() async throws {
        let fixture = self.fixture!
        let notification = try await fixture.notification()
        try await notification.database.write { connection in
            for (order, customer) in [("order-of-a", "C-A"), ("order-of-b", "C-B")] {
                _ = try connection.execute("""
                    INSERT INTO notifications (notification_id, order_id, kind, customer_id, channel, message, created_at_ms, state,
                                               attempts, next_attempt_at_ms)
                    VALUES (?, ?, 'ORDER_CONFIRMED', ?, 'log', 'hello', 0, 'SENT', 1, 0)
                    """, [.text("n-\(order)"), .text(order), .text(customer)])
            }
        }
        let a = try await fixture.token([.customer], "C-A")
        try await notification.app.test(.router) { client in
            let own = try await call(client, .get, "/notifications", token: a)
            XCTAssertTrue((try own.json()["items"] as? [[String: Any]])?.map { $0["orderId"] as? String } == ["order-of-a"], own.text)
            let theirs = try await call(client, .get, "/notifications?orderId=order-of-b", token: a)
            XCTAssertTrue((try theirs.json()["items"] as? [Any])?.count == 0, theirs.text)
            let all = try await call(client, .get, "/notifications", token: try await fixture.token([.auditor], "audit"))
            XCTAssertTrue((try all.json()["items"] as? [Any])?.count == 2)
        }
    }

    func testMetricsAndConsumerStateAreNotForCustomers() async throws {
        let fixture = self.fixture!
        let order = try await fixture.order()
        try await order.app.test(.router) { client in
            let customer = try await fixture.token([.customer], "C-A")
            let response16 = try await call(client, .get, "/metrics", token: customer)
            XCTAssertTrue(response16.status == .forbidden)
            let response17 = try await call(client, .get, "/consumer", token: customer)
            XCTAssertTrue(response17.status == .forbidden)
            let response18 = try await call(client, .get, "/consumer", token: try await fixture.token([.monitor], "prometheus"))
            XCTAssertTrue(response18.status == .forbidden)
            let response19 = try await call(client, .get, "/metrics", token: try await fixture.token([.monitor], "prometheus"))
            XCTAssertTrue(response19.status == .ok)
            // Not ready (nothing consumes here): anonymous callers learn which check, not why.
            let anonymous = try await call(client, .get, "/readyz")
            XCTAssertTrue(anonymous.status == .serviceUnavailable)
            let staff = try await call(client, .get, "/readyz", token: try await fixture.token([.operator], "op"))
            XCTAssertTrue(staff.text.count > anonymous.text.count, "an operator sees the reasons")
        }
    }

    /// The service's data is readable by its own user only, even where an older file was not.
    func testServiceFilesAreItsOwn() async throws {
        let fixture = self.fixture!
        let database = fixture.directory.appendingPathComponent("order.db").path
        _ = FileManager.default.createFile(atPath: database, contents: nil, attributes: [.posixPermissions: 0o644])
        let order = try await fixture.order()
        for file in [database, database + "-wal"] where FileManager.default.fileExists(atPath: file) {
            let mode = (try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? NSNumber)?.intValue
            XCTAssertTrue(mode == 0o600, file)
        }
        let notifications = fixture.directory.appendingPathComponent("notifications.jsonl").path
        _ = FileManager.default.createFile(atPath: notifications, contents: nil, attributes: [.posixPermissions: 0o644])
        _ = try FileChannel(path: notifications)
        XCTAssertTrue((try FileManager.default.attributesOfItem(atPath: notifications)[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        await order.database.close()
        let key = fixture.keys.appendingPathComponent("events/order.key").path
        XCTAssertTrue((try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    static func body(_ customer: String, quantity: Int = 1) -> String {
        #"{"customerId":"\#(customer)","currency":"EUR","lines":[{"sku":"SKU-1","quantity":\#(quantity)}]}"#
    }
}
