import Credentials
import Foundation
import Hummingbird
import HummingbirdTesting
import SagaTimeline
import ServiceKit
import XCTest
@testable import Console

/// The console in process: who may open what (a walk over every route it registers), signing
/// in, CSRF, and the pages rendered from fixture data.
final class ConsoleRouteTests: XCTestCase {
    var fixture: ConsoleFixture!

    override func setUp() async throws {
        fixture = try await ConsoleFixture()
    }

    override func tearDown() async throws {
        fixture = nil
    }

    /// The routes that need no operator: the sign-in form, its POST, the redirect from /, and the
    /// two assets. Everything else is for operators only.
    static let openRoutes: Set<String> = ["GET /", "GET /login", "POST /login", "GET /assets/console.css", "GET /assets/live.js"]

    func testEveryRouteHasAPolicyAndOnlyTheSignInIsOpen() {
        XCTAssertEqual(fixture.routes.routesWithoutPolicy(), [])
        let open = Set(fixture.routes.policies.filter { $0.value.isOpen }.map(\.key.description))
        XCTAssertEqual(open, Self.openRoutes)
        for (route, policy) in fixture.routes.policies where !policy.isOpen {
            XCTAssertEqual(policy.roles, [.operator], "\(route) admits \(policy) (the console is for operators only)")
        }
        XCTAssertGreaterThanOrEqual(fixture.routes.policies.count, 17)
    }

    /// Every operator route: anonymous → 401, a customer's token → 403, the auditor's and the
    /// monitor's → 403, an operator's → neither (the page or the action's own answer).
    func testTheAuthMatrixOnEveryRoute() async throws {
        let fixture = self.fixture!
        let customer = try await fixture.token([.customer], ConsoleFixture.customer)
        let auditor = try await fixture.token([.auditor], "audit")
        let monitor = try await fixture.token([.monitor], "prometheus")
        let operatorToken = try await fixture.token([.operator], "ops-alice")
        let walked = try await fixture.app.test(.router) { client in
            var walked = 0
            for (route, policy) in fixture.routes.policies where !policy.isOpen {
                walked += 1
                let uri = route.path.replacingOccurrences(of: "{orderId}", with: ConsoleFixture.orderId)
                    .replacingOccurrences(of: "{id}", with: fixture.letter.idText)
                    .replacingOccurrences(of: ":orderId", with: ConsoleFixture.orderId)
                    .replacingOccurrences(of: ":id", with: fixture.letter.idText)
                let form = route.method == .post ? "id=\(fixture.letter.idText)&confirm=yes" : nil
                let anonymous = try await call(client, route.method, uri, form: form)
                XCTAssertEqual(anonymous.status, .unauthorized, "anonymous \(route)")
                XCTAssertTrue(anonymous.text.contains("Sign in"), "the 401 page leads to the sign-in: \(route)")
                XCTAssertFalse(anonymous.text.contains(ConsoleFixture.customer), "\(route) leaks data to a stranger")
                for (who, token) in [("customer", customer), ("auditor", auditor), ("monitor", monitor), ("garbage", "x.y.z")] {
                    let response = try await call(client, route.method, uri, token: token, form: form)
                    XCTAssertEqual(response.status, who == "garbage" ? .unauthorized : .forbidden, "\(who) \(route)")
                    XCTAssertFalse(response.text.contains(ConsoleFixture.customer), "\(route) leaks data to a \(who)")
                }
                guard route.path != "/live/events" else { continue }  // endless: its operator answer is a stream
                let answer = try await call(client, route.method, uri, token: operatorToken, form: form)
                XCTAssertFalse([.unauthorized, .forbidden].contains(answer.status), "operator \(route): \(answer.status) \(answer.text.prefix(300))")
                XCTAssertLessThan(answer.status.code, 500, "operator \(route): \(answer.text.prefix(300))")
            }
            return walked
        }
        XCTAssertEqual(walked, fixture.routes.policies.count - Self.openRoutes.count)
        // The operator's replay through the bearer token reached the shared replayer once.
        XCTAssertEqual(fixture.replayer.replayed, [[fixture.letter.id]])
    }

    func testACustomerOrAnAuditorCannotSignIn() async throws {
        let fixture = self.fixture!
        for token in [try await fixture.token([.customer], ConsoleFixture.customer), try await fixture.token([.auditor], "audit")] {
            try await fixture.app.test(.router) { client in
                let form = try await call(client, .get, "/login")
                let nonce = try XCTUnwrap(formValue("nonce", in: form.text))
                let cookie = try XCTUnwrap(form.cookie(SessionStore.loginCookieName)).pair
                let answer = try await call(client, .post, "/login", cookie: cookie,
                                            form: "nonce=\(nonce)&token=\(token)")
                XCTAssertEqual(answer.status, .forbidden)
                XCTAssertNil(answer.cookie(SessionStore.cookieName), "no session for a token without the operator role")
            }
        }
    }

    /// Sign in by pasting a token: an HttpOnly, SameSite=Strict session cookie (not the token),
    /// then every page opens with it; signing out ends it.
    func testSigningInGivesAStrictHttpOnlySessionThatOpensThePages() async throws {
        let fixture = self.fixture!
        let token = try await fixture.token([.operator], "ops-alice")
        try await fixture.app.test(.router) { client in
            let session = try await signIn(client, token: token)
            XCTAssertFalse(session.header.contains(token))
            XCTAssertTrue(session.header.contains("HttpOnly"), session.header)
            XCTAssertTrue(session.header.lowercased().contains("samesite=strict"), session.header)
            for path in ["/orders", "/orders?customer=\(ConsoleFixture.customer)", "/orders?state=CONFIRMED", "/orders/\(ConsoleFixture.orderId)",
                         "/deadletters", "/deadletters?service=order&kind=rejected", "/deadletters/\(fixture.letter.idText)",
                         "/services", "/live", "/alerts", "/actions"] {
                let page = try await call(client, .get, path, cookie: session.pair)
                XCTAssertEqual(page.status, .ok, "\(path): \(page.text.prefix(300))")
                XCTAssertTrue(page.text.contains("ops-alice"), "\(path) shows who is signed in")
                XCTAssertNotNil(page.headers[.contentSecurityPolicy])
                XCTAssertEqual(page.headers[.cacheControl], "no-store")
            }
            let listing = try await call(client, .get, "/orders?customer=\(ConsoleFixture.customer)", cookie: session.pair)
            XCTAssertTrue(listing.text.contains(ConsoleFixture.orderId))
            XCTAssertTrue(listing.text.contains("CONFIRMED"))
            let none = try await call(client, .get, "/orders?state=CANCELLED", cookie: session.pair)
            XCTAssertFalse(none.text.contains(ConsoleFixture.orderId))

            let orders = try await call(client, .get, "/orders", cookie: session.pair)
            let csrf = try XCTUnwrap(formValue("csrf", in: orders.text))
            let out = try await call(client, .post, "/logout", cookie: session.pair, form: "csrf=\(csrf)")
            XCTAssertEqual(out.status, .seeOther)
            let after = try await call(client, .get, "/orders", cookie: session.pair)
            XCTAssertEqual(after.status, .unauthorized, "the session ended")
        }
    }

    /// A POST from the browser session without its CSRF token, or with another value, is refused
    /// before anything happens; with it, the replay asks for confirmation, then goes through the
    /// shared replayer and is logged with who did it.
    func testFormsWithoutTheSessionsCSRFTokenAreRefused() async throws {
        let fixture = self.fixture!
        let token = try await fixture.token([.operator], "ops-bob")
        try await fixture.app.test(.router) { client in
            let session = try await signIn(client, token: token)
            let id = fixture.letter.idText
            for form in ["id=\(id)&confirm=yes", "id=\(id)&confirm=yes&csrf=forged"] {
                for path in ["/deadletters/replay", "/deadletters/replay/confirm", "/services/reset/confirm", "/logout"] {
                    let answer = try await call(client, .post, path, cookie: session.pair, form: form)
                    XCTAssertEqual(answer.status, .forbidden, "\(path) with \(form)")
                }
            }
            // Signing in from a foreign page: no nonce cookie.
            let foreign = try await call(client, .post, "/login", form: "nonce=abc&token=\(token)")
            XCTAssertEqual(foreign.status, .forbidden)
            XCTAssertEqual(fixture.replayer.replayed, [], "nothing was replayed")

            let letterPage = try await call(client, .get, "/deadletters/\(id)", cookie: session.pair)
            let csrf = try XCTUnwrap(formValue("csrf", in: letterPage.text))
            let ask = try await call(client, .post, "/deadletters/replay", cookie: session.pair, form: "csrf=\(csrf)&id=\(id)")
            XCTAssertEqual(ask.status, .ok)
            XCTAssertTrue(ask.text.contains("confirm-replay"), "a confirmation step: \(ask.text.prefix(500))")
            XCTAssertEqual(fixture.replayer.replayed, [], "asking is not replaying")
            let unconfirmed = try await call(client, .post, "/deadletters/replay/confirm", cookie: session.pair, form: "csrf=\(csrf)&id=\(id)")
            XCTAssertEqual(unconfirmed.status, .badRequest)
            let done = try await call(client, .post, "/deadletters/replay/confirm", cookie: session.pair,
                                      form: "csrf=\(csrf)&id=\(id)&confirm=yes")
            XCTAssertTrue(done.text.contains("replay-outcomes"), done.text)
            XCTAssertEqual(fixture.replayer.replayed, [[fixture.letter.id]])
            let logged = try XCTUnwrap(fixture.dependencies.actions.recent.first)
            XCTAssertEqual(logged.subject, "ops-bob")
            XCTAssertTrue(logged.action.contains(id), logged.action)
        }
    }

    /// The order's page from fixture records: every event with topic, partition and offset, all
    /// four services, the dead letter it caused (its markup shown as text), the trace link and
    /// the sequence diagram as inline SVG.
    func testTheOrderPageShowsTheSagaAcrossTheFourServices() async throws {
        let fixture = self.fixture!
        let token = try await fixture.token([.operator], "ops-alice")
        try await fixture.app.test(.router) { client in
            let page = try await call(client, .get, "/orders/\(ConsoleFixture.orderId)", token: token)
            XCTAssertEqual(page.status, .ok, page.text)
            let html = page.text
            for event in ["OrderPlaced", "StockReserved", "PaymentCharged", "OrderConfirmed", "NotificationSent"] {
                XCTAssertTrue(html.contains(event), event)
            }
            for cell in ["<td class=\"mono\">orders.v1</td><td class=\"num\">3</td><td class=\"num\">100</td>",
                         "<td class=\"mono\">payments.v1</td><td class=\"num\">2</td><td class=\"num\">300</td>"] {
                XCTAssertTrue(html.contains(cell), cell)
            }
            XCTAssertTrue(html.contains("<span id=\"services-seen\">inventory, notification, order, payment</span>"))
            XCTAssertTrue(html.contains("http://127.0.0.1:16686/trace/0af7651916cd43dd8448eb211c80319c"))
            XCTAssertTrue(html.contains("<svg class=\"sequence\""))
            XCTAssertTrue(html.contains(fixture.letter.idText), "the dead letter it caused")
            XCTAssertFalse(html.contains("<script>alert"), "a record's text never becomes markup")
            XCTAssertTrue(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"))
            for service in ["order", "inventory", "payment", "notification"] {
                XCTAssertTrue(html.contains("id=\"state-\(service)\""), "\(service)'s state (here: unreachable, said so)")
            }
            let missing = try await call(client, .get, "/orders/no-such-order", token: token)
            XCTAssertEqual(missing.status, .notFound)
        }
    }

    func testTheSequenceDiagramDrawsEachEventFromItsWriterToWhoActedOnIt() async throws {
        let fixture = self.fixture!
        let token = try await fixture.token([.operator], "ops-alice")
        try await fixture.app.test(.router) { client in
            let response = try await call(client, .get, "/orders/\(ConsoleFixture.orderId)/sequence.svg", token: token)
            XCTAssertEqual(response.status, .ok)
            XCTAssertEqual(response.headers[.contentType], "image/svg+xml")
            let svg = response.text
            XCTAssertTrue(svg.hasPrefix("<svg"))
            XCTAssertTrue(svg.hasSuffix("</svg>"))
            XCTAssertEqual(svg.components(separatedBy: "class=\"lifeline\"").count - 1, 5, "four services and the dead letters")
            // Placed → inventory, Reserved → payment, Charged → order, Confirmed → notification: 4 arrows; the notification
            // ended the saga (a dot); the dead letter a red arrow.
            XCTAssertEqual(svg.components(separatedBy: "class=\"arrow\"").count - 1, 4)
            XCTAssertEqual(svg.components(separatedBy: "class=\"arrow deadletter\"").count - 1, 1)
            XCTAssertFalse(svg.contains("<script"))
        }
        let rows = SequenceDiagram.rows(OrderTimeline.build(orderId: ConsoleFixture.orderId,
                                                            records: (fixture.dependencies.records as! FixtureRecords).records),
                                        deadLetters: [fixture.letter])
        XCTAssertEqual(rows.map(\.from), ["order", "inventory", "payment", "order", "notification", "order"])
        XCTAssertEqual(rows.map(\.to), [["inventory"], ["payment"], ["order"], ["notification"], [], ["dead letters"]])
    }

    func testTheDeadLetterIsShownDecodedAndListedWithFilters() async throws {
        let fixture = self.fixture!
        let token = try await fixture.token([.operator], "ops-alice")
        try await fixture.app.test(.router) { client in
            let page = try await call(client, .get, "/deadletters/\(fixture.letter.idText)", token: token)
            XCTAssertEqual(page.status, .ok)
            XCTAssertTrue(page.text.contains("payments.v1[2]@307"))
            XCTAssertTrue(page.text.contains("payload-bytes"), "deadbeef does not decode as PaymentCharged: its bytes are shown")
            XCTAssertTrue(page.text.contains("de ad be ef"))
            XCTAssertTrue(page.text.contains("letter-headers"))
            let matching = try await call(client, .get, "/deadletters?service=order&kind=rejected&origin=payments.v1", token: token)
            XCTAssertTrue(matching.text.contains(fixture.letter.idText))
            let other = try await call(client, .get, "/deadletters?service=payment", token: token)
            XCTAssertFalse(other.text.contains(fixture.letter.idText))
            let bad = try await call(client, .get, "/deadletters?kind=nonsense", token: token)
            XCTAssertEqual(bad.status, .badRequest)
            XCTAssertFalse(bad.text.contains("Swift"), "a problem page, no internals")
            let unknown = try await call(client, .get, "/deadletters/\(UUID().uuidString)", token: token)
            XCTAssertEqual(unknown.status, .notFound)
        }
    }
}

/// Signs in through the form as a browser does: the form's nonce and its cookie, then the token.
func signIn(_ client: some TestClientProtocol, token: String) async throws -> (pair: String, header: String) {
    let form = try await call(client, .get, "/login")
    let nonce = try XCTUnwrap(formValue("nonce", in: form.text))
    let cookie = try XCTUnwrap(form.cookie(SessionStore.loginCookieName)).pair
    let answer = try await call(client, .post, "/login", cookie: cookie, form: "nonce=\(nonce)&token=\(token)")
    XCTAssertEqual(answer.status, .seeOther, answer.text)
    return try XCTUnwrap(answer.cookie(SessionStore.cookieName))
}
