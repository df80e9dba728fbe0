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
/// to CONSOLE_SCREENSHOTS when set (the README's, taken by this test).
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

func findExecutable(_ name: String) -> String? {
    for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
        let path = "\(folder)/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

/// chromedriver on a free loopback port, and a minimal WebDriver client over it.
final class ChromeDriver: @unchecked Sendable {
    let process: Process
    let base: String
    let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)

    private init(process: Process, base: String) {
        self.process = process
        self.base = base
    }

    static func start(path: String) async throws -> ChromeDriver {
        let port = try freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["--port=\(port)", "--allowed-ips=127.0.0.1"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let driver = ChromeDriver(process: process, base: "http://127.0.0.1:\(port)")
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let status = try? await driver.call(.GET, "/status"), (status["ready"] as? Bool) == true { return driver }
            try await Task.sleep(for: .milliseconds(200))
        }
        driver.stop()
        throw Failure("chromedriver did not become ready on port \(port)")
    }

    /// Ends chromedriver (SIGTERM, then SIGKILL after 3 s) and waits for it.
    func stop() {
        try? http.syncShutdown()
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(3)
        while process.isRunning, Date() < deadline { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// The command's `value`.
    func call(_ method: HTTPMethod, _ path: String, _ body: [String: Any]? = nil) async throws -> [String: Any] {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: Array(try JSONSerialization.data(withJSONObject: body))))
        }
        let response = try await http.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        let object = try JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) as? [String: Any] ?? [:]
        if let value = object["value"] as? [String: Any], let error = value["error"] as? String {
            throw Failure("\(method) \(path): \(error): \(value["message"] as? String ?? "")")
        }
        if let value = object["value"] as? [String: Any] { return value }
        return ["value": object["value"] ?? NSNull()]
    }

    func newSession() async throws -> Browser {
        let capabilities: [String: Any] = ["capabilities": ["alwaysMatch": [
            "browserName": "chrome",
            "goog:chromeOptions": ["args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                            "--window-size=1400,1000", "--user-data-dir=/tmp/console-chrome-\(UUID().uuidString)"]],
        ]]]
        let value = try await call(.POST, "/session", capabilities)
        guard let id = value["sessionId"] as? String else { throw Failure("no session id in \(value)") }
        return Browser(driver: self, session: id)
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { throw Failure("bind failed") }
        let named = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        guard named == 0 else { throw Failure("getsockname failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

struct Browser: Sendable {
    let driver: ChromeDriver
    let session: String

    func go(_ url: String) async throws { _ = try await driver.call(.POST, "/session/\(session)/url", ["url": url]) }

    func source() async throws -> String {
        try await driver.call(.GET, "/session/\(session)/source")["value"] as? String ?? ""
    }

    func find(_ css: String) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(10)
        var last = ""
        while ContinuousClock.now < deadline {
            do {
                let value = try await driver.call(.POST, "/session/\(session)/element", ["using": "css selector", "value": css])
                if let id = value.first(where: { $0.key.hasPrefix("element-") })?.value as? String { return id }
            } catch {
                last = "\(error)"
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ChromeDriver.Failure("no element \(css): \(last)")
    }

    func click(_ element: String) async throws {
        _ = try await driver.call(.POST, "/session/\(session)/element/\(element)/click", [:])
    }

    func type(_ element: String, _ text: String) async throws {
        _ = try await driver.call(.POST, "/session/\(session)/element/\(element)/value", ["text": text])
    }

    /// The page source once `condition` holds (10 s at most).
    func waitFor(_ condition: (String) -> Bool) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(10)
        var page = ""
        while ContinuousClock.now < deadline {
            page = try await source()
            if condition(page) { return page }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTFail("the page never showed what was awaited: \(page.prefix(800))")
        return page
    }

    func screenshot(to folder: URL?, _ name: String) async throws {
        guard let folder else { return }
        let value = try await driver.call(.GET, "/session/\(session)/screenshot")
        guard let text = value["value"] as? String, let data = Data(base64Encoded: text) else { return }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try data.write(to: folder.appendingPathComponent("console-\(name).png"))
    }

    func quit() async throws { _ = try await driver.call(.DELETE, "/session/\(session)") }
}
