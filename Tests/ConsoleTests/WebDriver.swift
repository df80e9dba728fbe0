import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import XCTest
import DevClusterTesting

// The WebDriver client the browser tests share (ConsoleBrowserTests over fixture data,
// ConsoleLocalStackTests over the local stack): chromedriver on a free loopback port, one
// headless Chromium session per Browser.

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
        let port = try FreePorts.one()
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

    func clear(_ element: String) async throws {
        _ = try await driver.call(.POST, "/session/\(session)/element/\(element)/clear", [:])
    }

    func type(_ element: String, _ text: String) async throws {
        _ = try await driver.call(.POST, "/session/\(session)/element/\(element)/value", ["text": text])
    }

    /// The page source once `condition` holds (`timeout` at most).
    func waitFor(timeout: Duration = .seconds(10), file: StaticString = #filePath, line: UInt = #line,
                 _ condition: (String) -> Bool) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        var page = ""
        while ContinuousClock.now < deadline {
            page = try await source()
            if condition(page) { return page }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTFail("the page never showed what was awaited: \(page.prefix(800))", file: file, line: line)
        return page
    }

    /// Loads `url` again and again (every 500 ms) until its page satisfies `condition`; fails
    /// naming `what` after `timeout`. For state that changes behind the page (a server-rendered
    /// page does not update itself).
    @discardableResult
    func reload(_ url: String, until what: String, timeout: Duration = .seconds(60), file: StaticString = #filePath, line: UInt = #line,
                _ condition: (String) -> Bool) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        var page = ""
        while ContinuousClock.now < deadline {
            try await go(url)
            page = try await source()
            if condition(page) { return page }
            try await Task.sleep(for: .milliseconds(500))
        }
        XCTFail("\(url) never showed \(what) within \(timeout): \(page.prefix(1500))", file: file, line: line)
        throw ChromeDriver.Failure("\(url) never showed \(what)")
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
