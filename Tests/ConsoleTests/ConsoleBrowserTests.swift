import AsyncHTTPClient
import Credentials
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import XCTest
@testable import Console

/// The console in a real browser: headless Chromium driven through chromedriver (WebDriver), the
/// console served on a real port over the fixture's data. Signs in by pasting a token, finds the
/// order, opens its saga (all four services, the SVG diagram), selects a dead letter and replays
/// it through the confirmation page, sees a live event arrive (the page's script under the
/// console's Content-Security-Policy), and is refused as a customer. Screenshots of each page go
/// to CONSOLE_SCREENSHOTS when set (the README's are ConsoleLocalStackTests', over real data).
final class ConsoleBrowserTests: XCTestCase {
    func testAnOperatorWorksThroughTheConsoleInABrowserAndACustomerCannot() async throws {
        guard let driverPath = findExecutable("chromedriver"), findExecutable("chromium") != nil else {
            throw XCTSkip("chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
        }
        let fixture = try await ConsoleFixture()
        let operatorToken = try await fixture.token([.operator], "ops-browser")
        let customerToken = try await fixture.token([.customer], ConsoleFixture.customer)
        let shots = ProcessInfo.processInfo.environment["CONSOLE_SCREENSHOTS"].map { URL(fileURLWithPath: $0) }
        let driver = try await ChromeDriver.start(path: driverPath)
        defer { driver.stop() }
        let app = Application(router: fixture.router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let base = "http://127.0.0.1:\(try XCTUnwrap(client.port))"
            let browser = try await driver.newSession()

            // Anonymous: the page says 401 and leads to the sign-in.
            try await browser.go(base + "/orders")
            var page = try await browser.source()
            XCTAssertTrue(page.contains("401 Unauthorized"), String(page.prefix(500)))
            XCTAssertFalse(page.contains(ConsoleFixture.orderId))

            // Sign in by pasting the operator's token.
            try await browser.go(base + "/login")
            try await browser.type(try await browser.find("#token"), operatorToken)
            try await browser.click(try await browser.find("#signin"))
            page = try await browser.waitFor { $0.contains("id=\"orders\"") }
            XCTAssertTrue(page.contains(ConsoleFixture.orderId))
            try await browser.screenshot(to: shots, "orders")

            // Find the order by its customer, open its saga.
            try await browser.go(base + "/orders?customer=\(ConsoleFixture.customer)")
            try await browser.click(try await browser.find("#orders a[href^='/orders/']"))
            page = try await browser.waitFor { $0.contains("id=\"timeline\"") }
            XCTAssertTrue(page.contains("inventory, notification, order, payment"), "all four services in the saga")
            _ = try await browser.find("svg.sequence")
            try await browser.screenshot(to: shots, "order")

            // The dead letter it caused: select it, confirm, replayed through the shared replayer.
            try await browser.go(base + "/deadletters")
            try await browser.screenshot(to: shots, "deadletters")
            try await browser.click(try await browser.find("input[name='id'][value='\(fixture.letter.idText)']"))
            try await browser.click(try await browser.find("#replay-selected"))
            page = try await browser.waitFor { $0.contains("id=\"confirm-replay\"") }
            XCTAssertEqual(fixture.replayer.replayed, [], "the selection asks for confirmation first")
            try await browser.click(try await browser.find("#confirm-replay"))
            page = try await browser.waitFor { $0.contains("id=\"replay-outcomes\"") }
            XCTAssertEqual(fixture.replayer.replayed, [[fixture.letter.id]])
            XCTAssertEqual(fixture.dependencies.actions.recent.first?.subject, "ops-browser")

            try await browser.go(base + "/services")
            page = try await browser.source()
            XCTAssertTrue(page.contains("not ready"), "services that do not answer are shown as such")
            try await browser.screenshot(to: shots, "services")

            // Live: an event published now reaches the open page through its stream.
            try await browser.go(base + "/live")
            _ = try await browser.waitFor { $0.contains(">connected<") }
            fixture.dependencies.index.live.publish(LiveEvent(kind: "confirmed", orderId: "order-live-1", customerId: "C-7",
                                                              detail: "confirmed 1.00 EUR", atMs: 1_780_000_000_000))
            _ = try await browser.waitFor { $0.contains("order-live-1") }
            try await browser.screenshot(to: shots, "live")
            try await browser.quit()

            // A customer's token does not get a session.
            let customer = try await driver.newSession()
            try await customer.go(base + "/login")
            try await customer.type(try await customer.find("#token"), customerToken)
            try await customer.click(try await customer.find("#signin"))
            page = try await customer.waitFor { $0.contains("403") }
            XCTAssertTrue(page.contains("for operators"))
            try await customer.go(base + "/deadletters")
            let refused = try await customer.source()
            XCTAssertTrue(refused.contains("401 Unauthorized"), "no session was made")
            try await customer.quit()
        }
    }
}
