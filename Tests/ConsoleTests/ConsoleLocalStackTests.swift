import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import SagaAPI
import ServiceKit
import XCTest
@testable import Console
@testable import DevClusterTesting

/// The console in headless Chromium against the local stack (`deploy/local-stack.sh`: the dev
/// cluster, the four services as processes, the load generator and its audit) and a real
/// `saga-console` process, as an operator uses it:
///
/// 1. anonymous and customer callers are refused every operator page and action (401 / 403,
///    every route the console registers, against the real process), and a customer's token gets
///    no session in the browser;
/// 2. the operator signs in, finds an order the load generator placed, opens its saga: all four
///    services;
/// 3. a dead letter with a cause that can be fixed (as `DeadLetterReplayTests`: Order sells a
///    SKU Inventory does not know): listed in the console, the SKU added and Inventory
///    restarted, replayed from the browser, the order confirmed;
/// 4. an offset anomaly (Inventory's stored offset beyond one partition's log end, written with
///    `kafka-tool offsets reset` while it is stopped): the Services page shows the held partition
///    with its reset form, the reset is confirmed in the browser, the partition flows again;
/// 5. the live page shows an order placed now.
///
/// Every wait polls a condition. Screenshots of each page go to CONSOLE_SCREENSHOTS when set
/// (the README's, Tools/Console/screenshots).
final class ConsoleLocalStackTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let lateSKU = "SKU-LATE"

    func testAnOperatorWorksThroughTheConsoleOnTheLocalStack() async throws {
        guard let driverPath = findExecutable("chromedriver"), findExecutable("chromium") != nil else {
            throw XCTSkip("chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
        }
        let bin = try DevClusterHarness.binary().deletingLastPathComponent()
        for exe in ["saga-console", "kafka-tool", "saga-admin", "loadgen", "order-service", "inventory-service"] {
            guard FileManager.default.isExecutableFile(atPath: bin.appendingPathComponent(exe).path) else {
                return XCTFail("no \(exe) in \(bin.path): swift build --build-tests first")
            }
        }
        let run = FileManager.default.temporaryDirectory.appendingPathComponent("console-stack-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let stack = LocalStack(bin: bin, run: run, basePort: try FreePorts.block())
        // The load generator's orders (a short run with the audit), and a saga deadline far away:
        // the order with a dead letter waits for its replay.
        let started = try stack.script(["--bin-dir", bin.path, "--run-dir", run.path, "--base-port", "\(stack.basePort)",
                                        "--rate", "10", "--duration", "4", "--saga-timeout-ms", "600000", "--keep-running"], timeout: 300)
        defer {
            _ = try? stack.script(["--stop", run.path], timeout: 120)
            try? FileManager.default.removeItem(at: run)
        }
        guard started.status == 0 else {
            stack.dumpLogs()
            return XCTFail("local-stack.sh failed (\(started.status)): \(started.stderr.suffix(3000))")
        }
        let seed = try JSONDecoder().decode(SeedCatalog.self, from: Data(contentsOf: run.appendingPathComponent("seed.json")))
        let buyer = try XCTUnwrap(seed.customers.filter { !$0.blocked }.max { $0.balance < $1.balance }).customerId
        let operatorToken = try stack.token(role: "operator", subject: "ops-e2e")
        let customerToken = try stack.token(role: "customer", subject: buyer)

        // The console, a process of its own over the stack's topics and services.
        let consolePort = try FreePorts.one()
        let base = "http://127.0.0.1:\(consolePort)"
        let keys = run.appendingPathComponent("keys")
        let console = try ChildProcess(executable: bin.appendingPathComponent("saga-console"), arguments: [
            "--bootstrap-file", run.appendingPathComponent("bootstrap").path, "--dev-cluster",
            "--jwks", keys.appendingPathComponent("jwks.json").path, "--keyring-file", keys.appendingPathComponent("keyring.json").path,
            "--signing-key-file", keys.appendingPathComponent("events/operator.key").path, "--http-port", "\(consolePort)",
        ] + LocalStack.services.map { "--service=\($0)=\(stack.url($0))" }, directory: run, name: "saga-console")
        defer { console.signal(SIGTERM); _ = console.wait(timeout: 15) }
        try await poll("the console to answer", timeout: .seconds(60)) {
            guard console.isRunning else { throw ChromeDriver.Failure("saga-console exited: \(console.stderr.suffix(2000))") }
            let reply = try? await Self.http(.GET, base + "/login")
            return reply?.status == 200 ? true : nil
        }

        // 1. Nobody but an operator: every operator route of the console (the walk of
        // ConsoleRouteTests, here against the real process), anonymous 401, a customer 403.
        let routes = try await ConsoleFixture().routes.policies.filter { !$0.value.isOpen }.map(\.key)
        XCTAssertGreaterThanOrEqual(routes.count, 12)
        for route in routes {
            let letterId = UUID().uuidString.lowercased()
            let uri = base + route.path.replacingOccurrences(of: "{orderId}", with: "order-any").replacingOccurrences(of: ":orderId", with: "order-any")
                .replacingOccurrences(of: "{id}", with: letterId).replacingOccurrences(of: ":id", with: letterId)
            let form = route.method == .post ? "id=\(UUID().uuidString.lowercased())&confirm=yes" : nil
            let method = HTTPMethod(rawValue: route.method.rawValue)
            let anonymous = try await Self.http(method, uri, form: form)
            XCTAssertEqual(anonymous.status, 401, "anonymous \(route)")
            let customer = try await Self.http(method, uri, token: customerToken, form: form)
            XCTAssertEqual(customer.status, 403, "customer \(route)")
        }

        let shots = ProcessInfo.processInfo.environment["CONSOLE_SCREENSHOTS"].map { URL(fileURLWithPath: $0) }
        let driver = try await ChromeDriver.start(path: driverPath)
        defer { driver.stop() }

        // A customer signing in gets a 403 and no session.
        let stranger = try await driver.newSession()
        try await stranger.go(base + "/services")
        let anonymousPage = try await stranger.source()
        XCTAssertTrue(anonymousPage.contains("401 Unauthorized"), String(anonymousPage.prefix(600)))
        try await stranger.go(base + "/login")
        try await stranger.type(try await stranger.find("#token"), customerToken)
        try await stranger.click(try await stranger.find("#signin"))
        let refusedPage = try await stranger.waitFor { $0.contains("403") }
        XCTAssertTrue(refusedPage.contains("for operators"), String(refusedPage.prefix(600)))
        for path in ["/orders", "/deadletters", "/services", "/live", "/actions"] {
            try await stranger.go(base + path)
            let refused = try await stranger.source()
            XCTAssertTrue(refused.contains("401 Unauthorized"), "\(path): the customer has no session")
        }
        try await stranger.quit()

        // 2. The operator signs in and finds an order of the load generator's, confirmed, and its saga.
        let browser = try await driver.newSession()
        try await browser.go(base + "/login")
        try await browser.screenshot(to: shots, "login")
        try await browser.type(try await browser.find("#token"), operatorToken)
        try await browser.click(try await browser.find("#signin"))
        _ = try await browser.waitFor { $0.contains("id=\"orders\"") }
        var page = try await browser.reload(base + "/orders?state=CONFIRMED", until: "a confirmed order of the load generator") {
            $0.contains("<td class=\"state-CONFIRMED\">")
        }
        try await browser.screenshot(to: shots, "orders")
        try await browser.click(try await browser.find("#orders a[href^='/orders/']"))
        page = try await browser.waitFor { $0.contains("id=\"timeline\"") }
        XCTAssertTrue(page.contains("<span id=\"services-seen\">inventory, notification, order, payment</span>"), "all four services in the saga")
        _ = try await browser.find("svg.sequence")
        try await browser.screenshot(to: shots, "order")

        // 3. A dead letter whose cause is then fixed: Order learns SKU-LATE, Inventory does not.
        let lateSeed = run.appendingPathComponent("seed-late.json")
        var late = seed
        late.skus.append(.init(sku: Self.lateSKU, unitPrice: 700, stock: 10))
        try JSONEncoder().encode(late).write(to: lateSeed)
        try stack.restart("order", seedFile: lateSeed)
        try await stack.waitHealthy("order")
        let orderId = try await stack.place(customer: buyer, currency: seed.currency, sku: Self.lateSKU, token: customerToken)
        page = try await browser.reload(base + "/deadletters?service=inventory", until: "Inventory's dead letter of \(orderId)", timeout: .seconds(90)) {
            $0.contains(">\(orderId)</a>")
        }
        XCTAssertTrue(page.contains(Self.lateSKU), "the letter's error names the SKU")
        try await browser.screenshot(to: shots, "deadletters")
        page = try await browser.reload(base + "/orders?orderId=\(orderId)", until: "the order pending, one dead letter") {
            $0.contains("<td class=\"state-PENDING\">PENDING</td>")
        }
        try await browser.go(base + "/deadletters?orderId=\(orderId)")
        try await browser.click(try await browser.find("#deadletters a[href^='/deadletters/']"))
        page = try await browser.waitFor { $0.contains("id=\"letter-error\"") }
        XCTAssertTrue(page.contains("Decoded as <strong>OrderPlaced</strong>"), String(page.prefix(2000)))
        try await browser.screenshot(to: shots, "deadletter")

        // The fix: Inventory's catalog gets the SKU (seeding inserts what is missing), then the replay.
        try stack.restart("inventory", seedFile: lateSeed)
        try await stack.waitHealthy("inventory")
        try await browser.go(base + "/deadletters?orderId=\(orderId)")
        try await browser.click(try await browser.find("#deadletters input[name='id']"))
        try await browser.click(try await browser.find("#replay-selected"))
        page = try await browser.waitFor { $0.contains("id=\"confirm-replay\"") }
        try await browser.click(try await browser.find("#confirm-replay"))
        page = try await browser.waitFor { $0.contains("id=\"replay-outcomes\"") }
        XCTAssertTrue(page.contains("replayed to orders.v1["), String(page.prefix(2000)))
        try await browser.reload(base + "/orders?orderId=\(orderId)", until: "the replayed order confirmed", timeout: .seconds(90)) {
            $0.contains("<td class=\"state-CONFIRMED\">CONFIRMED</td>")
        }
        // Notification's NotificationSent follows the confirmation: the page shows the four once it is on its topic.
        page = try await browser.reload(base + "/orders/\(orderId)", until: "the replayed saga run to its end, notification included",
                                        timeout: .seconds(60)) {
            $0.contains("<span id=\"services-seen\">inventory, notification, order, payment</span>")
        }

        // 4. An offset anomaly: Inventory's stored offset of one of its partitions beyond the log end.
        let consumer = try await stack.consumer("inventory", token: operatorToken)
        let target = try XCTUnwrap(consumer.partitions.first { $0.assigned && $0.held == nil }, "\(consumer.partitions)")
        try stack.stop("inventory")
        let database = "sqlite://" + run.appendingPathComponent("data/inventory.db").path
        let reset = try stack.kafkaTool(["offsets", "reset", "--database", database, "--group", "inventory",
                                         "--topic", target.topic, "--partition", "\(target.partition)", "--to", "1000000"])
        XCTAssertEqual(reset.status, 0, reset.stderr)
        try stack.start("inventory")
        try await stack.waitHealthy("inventory")
        let shown = try stack.kafkaTool(["offsets", "show", "--database", database, "--group", "inventory",
                                         "--bootstrap-file", run.appendingPathComponent("bootstrap").path, "--dev-cluster"])
        XCTAssertTrue(shown.stdout.contains("BEYOND THE LOG END"), "kafka-tool sees the anomaly: \(shown.stdout)")
        // The log's end, where the operator resumes it ("… last processed 999999, log L..<END: BEYOND …").
        let anomalyLine = try XCTUnwrap(shown.stdout.split(separator: "\n").first { $0.contains("BEYOND THE LOG END") })
        let logEnd = try XCTUnwrap(anomalyLine.range(of: "..<").map { Int64(anomalyLine[$0.upperBound...].prefix { $0.isNumber }) } ?? nil,
                                   String(anomalyLine))
        let partitionField = "<input type=\"hidden\" name=\"partition\" value=\"\(target.partition)\">"
        page = try await browser.reload(base + "/services", until: "\(target.topic)[\(target.partition)] held on inventory", timeout: .seconds(90)) {
            $0.contains("action=\"/services/reset\"") && $0.contains(partitionField)
        }
        XCTAssertTrue(page.contains("<td class=\"mono\">\(target.topic)[\(target.partition)]</td><td class=\"num\">999999</td>"),
                      "the stored offset the console shows")
        try await browser.screenshot(to: shots, "services")
        try await browser.click(try await browser.find("form[action='/services/reset'] button"))
        page = try await browser.waitFor { $0.contains("id=\"confirm-reset\"") }
        XCTAssertTrue(page.contains("\(target.topic)[\(target.partition)]"))
        // The form proposes the log end when the service reports one; a held partition's row has
        // none (the consumer paused it), so the operator enters the log end the reason names.
        let next = try await browser.find("input[name='next']")
        try await browser.clear(next)
        try await browser.type(next, "\(logEnd)")
        try await browser.screenshot(to: shots, "reset")
        try await browser.click(try await browser.find("#confirm-reset"))
        page = try await browser.waitFor { $0.contains("id=\"reset-outcome\"") }
        XCTAssertTrue(page.contains("<p id=\"reset-outcome\" class=\"good\">done</p>"), String(page.prefix(2000)))
        try await browser.reload(base + "/services", until: "no partition held", timeout: .seconds(60)) {
            !$0.contains("action=\"/services/reset\"") && $0.contains("<td class=\"mono\">\(target.topic)[\(target.partition)]</td>")
        }
        let released = try await stack.consumer("inventory", token: operatorToken)
        XCTAssertNil(released.partitions.first { $0.topic == target.topic && $0.partition == target.partition }?.held)
        let after = try stack.kafkaTool(["offsets", "show", "--database", database, "--group", "inventory",
                                         "--bootstrap-file", run.appendingPathComponent("bootstrap").path, "--dev-cluster"])
        XCTAssertFalse(after.stdout.contains("BEYOND THE LOG END"), after.stdout)

        // What the operator did, in the operator's name.
        page = try await browser.reload(base + "/actions", until: "the replay and the reset logged") {
            $0.contains("replay dead letter") && $0.contains("reset inventory")
        }
        XCTAssertTrue(page.contains("<td>ops-e2e</td>"))
        try await browser.screenshot(to: shots, "actions")

        // 5. Live: an order placed now reaches the open page.
        try await browser.go(base + "/live")
        _ = try await browser.waitFor { $0.contains(">connected<") }
        let known = try XCTUnwrap(seed.skus.first).sku
        let liveOrder = try await stack.place(customer: buyer, currency: seed.currency, sku: known, token: customerToken)
        _ = try await browser.waitFor(timeout: .seconds(60)) { $0.contains(liveOrder) }
        try await browser.screenshot(to: shots, "live")
        try await browser.quit()
        XCTAssertTrue(console.isRunning, "the console ran throughout: \(console.stderr.suffix(2000))")
    }

    // MARK: - helpers

    /// Polls `condition` (every 250 ms) until it gives a value.
    @discardableResult
    func poll<T>(_ what: String, timeout: Duration, _ condition: () async throws -> T?) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let value = try await condition() { return value }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw ChromeDriver.Failure("not within \(timeout): \(what)")
    }

    struct Reply {
        var status: Int
        var text: String
    }

    static func http(_ method: HTTPMethod, _ url: String, token: String? = nil, form: String? = nil, json: String? = nil) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let form {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: form))
        } else if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 << 20)
        return Reply(status: Int(response.status.code), text: String(buffer: body))
    }

}

/// One run of `deploy/local-stack.sh` (one instance of each service): its processes are
/// stopped and started again from the run folder's command lines (cmd/NAME), as chaos.sh does.
struct LocalStack {
    static let services = ["order", "inventory", "payment", "notification"]
    let bin: URL
    let run: URL
    let basePort: Int

    func url(_ service: String) -> String {
        "http://127.0.0.1:\(basePort + (Self.services.firstIndex(of: service) ?? 0))"
    }

    func script(_ arguments: [String], timeout: TimeInterval) throws -> ProcessResult {
        try ScriptProcess.run(ConsoleLocalStackTests.root.appendingPathComponent("deploy/local-stack.sh").path, arguments, timeout: timeout)
    }

    func token(role: String, subject: String) throws -> String {
        let result = try ChildProcess.run(bin.appendingPathComponent("saga-admin").path,
                                          ["token", "--keys", run.appendingPathComponent("keys").path, "--role", role, "--subject", subject],
                                          timeout: 60)
        guard result.status == 0 else { throw ChromeDriver.Failure("saga-admin token failed: \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func kafkaTool(_ arguments: [String]) throws -> ProcessResult {
        let result = try ChildProcess.run(bin.appendingPathComponent("kafka-tool").path, arguments, timeout: 120)
        if result.status != 0 { print("kafka-tool \(arguments.joined(separator: " ")):\n\(result.stdout)\n\(result.stderr)") }
        return result
    }

    /// The control script: `stop NAME` (SIGTERM, waits for the exit) and `start NAME [FROM TO]`
    /// (the instance's recorded command line, FROM replaced by TO and recorded again, detached,
    /// its pid in pids/NAME.pid for --stop).
    static let control = #"""
        set -euo pipefail
        RUN=$1 ACTION=$2 NAME=$3
        case $ACTION in
            stop)
                pid=$(<"$RUN/pids/$NAME.pid")
                kill -TERM "$pid" 2>/dev/null || true
                for ((i = 0; i < 300; i++)); do
                    state=$(ps -o stat= -p "$pid" 2>/dev/null || true)
                    [[ -n $state && $state != Z* ]] || exit 0   # gone (or a zombie nobody reaps)
                    sleep 0.1
                done
                echo "$NAME did not stop in 30 s" >&2; exit 1 ;;
            start)
                cmd=$(<"$RUN/cmd/$NAME")
                if (($# == 5)); then cmd=${cmd//"$4"/"$5"}; printf '%s' "$cmd" >"$RUN/cmd/$NAME"; fi
                eval "exec $cmd" >>"$RUN/logs/$NAME.log" 2>&1 </dev/null &
                echo $! >"$RUN/pids/$NAME.pid" ;;
        esac
        """#

    func control(_ arguments: [String]) throws {
        let file = run.appendingPathComponent("control.sh")
        if !FileManager.default.fileExists(atPath: file.path) { try Data(Self.control.utf8).write(to: file) }
        let result = try ScriptProcess.run(file.path, [run.path] + arguments, timeout: 60)
        guard result.status == 0 else { throw ChromeDriver.Failure("control.sh \(arguments): \(result.stderr)") }
    }

    func stop(_ service: String) throws { try control(["stop", "\(service)-0"]) }
    func start(_ service: String) throws { try control(["start", "\(service)-0"]) }

    /// Restarted with another seed catalog (seeding inserts what is missing).
    func restart(_ service: String, seedFile: URL) throws {
        try stop(service)
        try control(["start", "\(service)-0", run.appendingPathComponent("seed.json").path, seedFile.path])
    }

    func waitHealthy(_ service: String) async throws {
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            if let reply = try? await ConsoleLocalStackTests.http(.GET, url(service) + "/healthz"), reply.status == 200 { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw ChromeDriver.Failure("\(service)-0 not healthy in 90 s")
    }

    /// POST /orders as the customer: the new order's id.
    func place(customer: String, currency: String, sku: String, token: String) async throws -> String {
        let body = #"{"customerId": "\#(customer)", "currency": "\#(currency)", "lines": [{"sku": "\#(sku)", "quantity": 1}]}"#
        let reply = try await ConsoleLocalStackTests.http(.POST, url("order") + "/orders", token: token, json: body)
        guard reply.status == 202,
              let object = try JSONSerialization.jsonObject(with: Data(reply.text.utf8)) as? [String: Any],
              let id = object["orderId"] as? String else {
            throw ChromeDriver.Failure("POST /orders: \(reply.status) \(reply.text)")
        }
        return id
    }

    func consumer(_ service: String, token: String) async throws -> ConsumerView {
        let reply = try await ConsoleLocalStackTests.http(.GET, url(service) + "/consumer", token: token)
        guard reply.status == 200 else { throw ChromeDriver.Failure("GET /consumer of \(service): \(reply.status) \(reply.text)") }
        return try JSONDecoder().decode(ConsumerView.self, from: Data(reply.text.utf8))
    }

    func dumpLogs() {
        let logs = run.appendingPathComponent("logs")
        for file in (try? FileManager.default.contentsOfDirectory(atPath: logs.path)) ?? [] {
            let text = (try? String(contentsOf: logs.appendingPathComponent(file), encoding: .utf8)) ?? ""
            print("--- \(file) (last lines)\n\(text.split(separator: "\n").suffix(25).joined(separator: "\n"))")
        }
    }
}
