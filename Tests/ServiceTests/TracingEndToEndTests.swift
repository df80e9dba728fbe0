import Foundation
import SagaAPI
import ServiceKit
import XCTest
@testable import DevClusterTesting

/// One order followed across the four real executables with tracing on: OTLP/HTTP export to a
/// receiver this test starts (Tests/Tools/otlp_receiver.py, real protobuf decoded with PyPI's
/// opentelemetry-proto), JSON log lines, and `loadgen timeline`.
final class TracingEndToEndTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let seed = SeedCatalog(
        currency: "EUR",
        skus: [.init(sku: "SKU-TRACE", unitPrice: 1_000, stock: 100)],
        customers: [.init(customerId: "C-TRACE", balance: 1_000_000)])

    /// A span as the receiver wrote it.
    struct Span: Decodable {
        let service: String?
        let traceId: String
        let spanId: String
        let parentSpanId: String
        let name: String
        let kind: String
        let attributes: [String: AttributeValue]
        let status: Status

        struct Status: Decodable { let code: Int; let message: String }
        enum AttributeValue: Decodable, CustomStringConvertible {
            case text(String), number(Double), flag(Bool)
            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let value = try? container.decode(Bool.self) { self = .flag(value) }
                else if let value = try? container.decode(Double.self) { self = .number(value) }
                else { self = .text((try? container.decode(String.self)) ?? "") }
            }
            var description: String {
                switch self {
                case .text(let text): text
                case .number(let number): number == number.rounded() ? String(Int64(number)) : String(number)
                case .flag(let flag): String(flag)
                }
            }
        }
    }

    /// The receiver and the stack, shared by the class's tests (each uses its own orders).
    final class Fixture {
        let directory: URL
        let spansFile: URL
        let receiver: ChildProcess
        let stack: SagaStack

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("tracing-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            spansFile = directory.appendingPathComponent("spans.jsonl")
            receiver = try ChildProcess(executable: URL(fileURLWithPath: "/usr/bin/env"),
                                        arguments: ["python3", TracingEndToEndTests.root.appendingPathComponent("Tests/Tools/otlp_receiver.py").path,
                                                    spansFile.path],
                                        directory: directory, name: "otlp-receiver")
            let receiver = receiver
            let port = try TracingEndToEndTests.poll("the OTLP receiver to listen", timeout: 20) { () -> Int? in
                if !receiver.isRunning {
                    throw SagaStack.Failure(description: "otlp_receiver.py exited (pip install opentelemetry-proto; .ci/run does): \(receiver.stderr)")
                }
                return receiver.stdout.split(separator: "\n").first { $0.hasPrefix("listening ") }.flatMap { Int($0.dropFirst(10)) }
            }
            var environment: [ServiceName: [String: String]] = [:]
            for service in ServiceName.allCases {
                environment[service] = [
                    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(port)", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                    "OTEL_SERVICE_NAME": service.executable, "OTEL_TRACES_SAMPLER": "parentbased_always_on",
                    "OTEL_BSP_SCHEDULE_DELAY": "100", "LOG_FORMAT": "json",
                ]
            }
            stack = try SagaStack(seed: TracingEndToEndTests.seed, sagaTimeoutMs: 4_000, environment: environment, logLevel: "debug")
        }

        func stop() {
            stack.stop()
            receiver.kill()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    nonisolated(unsafe) static var shared: Fixture?

    override class func tearDown() {
        shared?.stop()
        shared = nil
        super.tearDown()
    }

    var fixture: Fixture {
        get throws {
            if let fixture = Self.shared { return fixture }
            let fixture = try Fixture()
            Self.shared = fixture
            return fixture
        }
    }

    func testOnePlacedOrderIsOneTraceAcrossTheFourServices() throws {
        let fixture = try fixture
        let (stack, spansFile) = (fixture.stack, fixture.spansFile)
        let client = SagaClient(stack: stack)

        // 1. A confirmed order: one trace, spans of all four services, every parent present.
        let id = try client.place(customer: "C-TRACE", [.init(sku: "SKU-TRACE", quantity: 2)])
        XCTAssertEqual(try client.waitForEnd(id)["status"] as? String, "CONFIRMED")
        _ = try client.waitForNotifications(id)

        let timeline = try self.timeline(stack, id)
        let traceIds = timeline["traceIds"] as? [String] ?? []
        XCTAssertEqual(traceIds.count, 1, "every event of the order carries one trace: \(timeline)")
        let traceId = try XCTUnwrap(traceIds.first)
        let types = (timeline["steps"] as? [[String: Any]] ?? []).compactMap { $0["eventType"] as? String }
        XCTAssertEqual(Set(types), ["OrderPlaced", "StockReserved", "PaymentCharged", "OrderConfirmed", "NotificationSent"], "\(timeline)")

        let expected: Set<String> = [
            "order-service /orders", "order-service db.transaction", "order-service send orders.v1",
            "inventory-service process orders.v1", "inventory-service handle OrderPlaced", "inventory-service send inventory.v1",
            "payment-service process inventory.v1", "payment-service handle StockReserved", "payment-service send payments.v1",
            "order-service process payments.v1", "order-service handle PaymentCharged",
            "notification-service process orders.v1", "notification-service handle OrderConfirmed",
            "notification-service notification sent", "notification-service send notifications.v1",
        ]
        var seen: Set<String> = []
        let trace = try poll("the spans of trace \(traceId) from all four services", timeout: 30, detail: { "missing \(expected.subtracting(seen).sorted()), seen \(seen.sorted())" }) { () -> [Span]? in
            let spans = try Self.spans(spansFile).filter { $0.traceId == traceId }
            seen = Set(spans.map { "\($0.service ?? "?") \($0.name)" })
            let ids = Set(spans.map(\.spanId))
            let complete = expected.isSubset(of: seen) && spans.allSatisfy { $0.parentSpanId.isEmpty || ids.contains($0.parentSpanId) }
            return complete ? spans : nil
        }
        let byId = Dictionary(trace.map { ($0.spanId, $0) }, uniquingKeysWith: { first, _ in first })
        let roots = trace.filter { $0.parentSpanId.isEmpty }
        XCTAssertEqual(roots.map(\.name), ["/orders"], "one root, the HTTP request (named by its route); no orphan spans")
        XCTAssertEqual(Set(trace.compactMap(\.service)), ["order-service", "inventory-service", "payment-service", "notification-service"])
        for span in trace {
            let parent = byId[span.parentSpanId]
            switch span.kind {
            case "consumer":
                // The documented chain: a consumer's parent is the producer span of the relay that sent it.
                XCTAssertEqual(parent?.kind, "producer", "\(span.service ?? "") \(span.name)")
                XCTAssertEqual(parent?.attributes["messaging.destination.name"]?.description,
                               span.attributes["messaging.destination.name"]?.description)
                XCTAssertEqual(parent?.attributes["messaging.message.id"]?.description, span.attributes["messaging.message.id"]?.description)
                XCTAssertNotNil(span.attributes["saga.broker.wait_ms"], "broker wait on \(span.name)")
            case "producer":
                // A send continues the span that wrote its row: the HTTP unit of work, a handler's
                // decision, the sweeper's or the notification worker's.
                XCTAssertTrue(["db.transaction", "order deadline", "notification sent"].contains(parent?.name ?? "")
                              || parent?.name.hasPrefix("handle ") == true,
                              "\(span.name)'s parent is \(parent?.name ?? "missing")")
                XCTAssertNotNil(span.attributes["saga.outbox.wait_ms"], "outbox wait on \(span.name)")
                XCTAssertNotNil(span.attributes["messaging.kafka.offset"], "\(span.name) ended on its ack")
            default:
                if span.name.hasPrefix("handle ") { XCTAssertEqual(parent?.kind, "consumer", span.name) }
            }
            XCTAssertNotEqual(span.status.code, 2, "\(span.service ?? "") \(span.name): \(span.status.message)")
        }

        // 2. The timeline's text: every step of the order on its topic, with the waits.
        let text = try loadgen(stack, ["timeline", id])
        XCTAssertEqual(text.status, 0, text.stderr)
        for step in ["OrderPlaced", "StockReserved", "PaymentCharged", "OrderConfirmed", "NotificationSent",
                     "orders.v1[", "inventory.v1[", "payments.v1[", "notifications.v1[", "trace \(traceId)", "status=CONFIRMED"] {
            XCTAssertTrue(text.stdout.contains(step), "timeline lacks \(step):\n\(text.stdout)")
        }

        // 3. JSON log lines of the order carry its trace id, in every service.
        for service in ServiceName.allCases {
            let lines = Self.jsonLines(stack.logs(service)).filter { $0["order-id"] as? String == id }
            XCTAssertFalse(lines.isEmpty, "\(service) logged nothing about \(id)")
            for line in lines {
                XCTAssertEqual(line["trace-id"] as? String, traceId, "\(service): \(line)")
                XCTAssertEqual((line["span-id"] as? String)?.count, 16, "\(service): \(line)")
            }
        }

        // 4. An order the deadline sweeper cancels (Payment stopped) keeps its correlation id and trace.
        stack.signal(.payment, SIGSTOP)
        let stalled = try client.place(customer: "C-TRACE", [.init(sku: "SKU-TRACE", quantity: 1)])
        let ended = try client.waitForEnd(stalled, timeout: 60)
        stack.signal(.payment, SIGCONT)
        XCTAssertEqual(ended["cancelReason"] as? String, "timeout", "\(ended)")
        let swept = try poll("the sweeper's OrderCancelled on orders.v1", timeout: 30) { () -> [String: Any]? in
            let document = try self.timeline(stack, stalled)
            let steps = document["steps"] as? [[String: Any]] ?? []
            return steps.contains { $0["eventType"] as? String == "OrderCancelled" } ? document : nil
        }
        let sweptSteps = swept["steps"] as? [[String: Any]] ?? []
        XCTAssertEqual(Set(sweptSteps.compactMap { $0["correlationId"] as? String }).count, 1, "one correlation id: \(swept)")
        XCTAssertEqual((swept["traceIds"] as? [String])?.count, 1, "one trace: \(swept)")
        let sweptTrace = try XCTUnwrap((swept["traceIds"] as? [String])?.first)
        let deadline = try poll("the sweeper's span in the order's trace", timeout: 30) { () -> Span? in
            try Self.spans(spansFile).first { $0.traceId == sweptTrace && $0.name == "order deadline" }
        }
        XCTAssertEqual(deadline.service, "order-service")
    }

    /// Every metric a panel of deploy/grafana/dashboards queries is on some service's /metrics,
    /// and every service exports the HTTP and process metrics.
    func testEveryMetricTheDashboardQueriesIsExported() throws {
        let stack = try fixture.stack
        let client = SagaClient(stack: stack)
        let id = try client.place(customer: "C-TRACE", [.init(sku: "SKU-TRACE", quantity: 1)])
        _ = try client.waitForEnd(id)
        _ = try client.waitForNotifications(id)
        let dashboards = Self.root.appendingPathComponent("deploy/grafana/dashboards")
        let files = try FileManager.default.contentsOfDirectory(atPath: dashboards.path).filter { $0.hasSuffix(".json") }
        XCTAssertFalse(files.isEmpty)
        let queried = try files.flatMap { try DashboardQueries.expressions(Data(contentsOf: dashboards.appendingPathComponent($0))) }
            .reduce(into: Set<String>()) { $0.formUnion(DashboardQueries.metricNames($1)) }
        var exported: [ServiceName: Set<String>] = [:]
        // Some gauges appear with their first sample (consumer lag: librdkafka's statistics, every 5 s).
        _ = try? poll("every queried metric on some /metrics", timeout: 30) { () -> Bool? in
            for service in ServiceName.allCases {
                exported[service] = DashboardQueries.sampleNames(try HTTP.get(stack.url(service, "/metrics"), token: stack.operatorToken).text)
            }
            return queried.isSubset(of: exported.values.reduce(into: Set<String>()) { $0.formUnion($1) }) ? true : nil
        }
        for service in ServiceName.allCases {
            for name in ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
                         "hb_requests", "http_server_request_duration_bucket"] {
                XCTAssertTrue(exported[service]!.contains(name), "\(service) /metrics lacks \(name)")
            }
        }
        let all = exported.values.reduce(into: Set<String>()) { $0.formUnion($1) }
        for file in files {
            let expressions = try DashboardQueries.expressions(Data(contentsOf: dashboards.appendingPathComponent(file)))
            XCTAssertGreaterThanOrEqual(expressions.count, 10, file)
            for expression in expressions {
                let metrics = DashboardQueries.metricNames(expression)
                XCTAssertFalse(metrics.isEmpty, "\(file): no metric in \(expression)")
                for metric in metrics {
                    XCTAssertTrue(all.contains(metric), "\(file) queries \(metric) (\(expression)), which no service exports")
                }
            }
        }
    }

    // MARK: helpers

    func timeline(_ stack: SagaStack, _ id: String) throws -> [String: Any] {
        let result = try loadgen(stack, ["timeline", id, "--json"])
        guard result.status == 0, let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else {
            throw SagaStack.Failure(description: "loadgen timeline --json: \(result.status) \(result.stdout) \(result.stderr)")
        }
        return object
    }

    func loadgen(_ stack: SagaStack, _ arguments: [String]) throws -> ProcessResult {
        try ChildProcess.run(try SagaStack.binary("loadgen").path, arguments + [
            "--bootstrap-file", stack.cluster.bootstrapFile.path, "--dev-cluster-tuning", "true",
            "--order-url", stack.url(.order, "").absoluteString, "--inventory-url", stack.url(.inventory, "").absoluteString,
            "--payment-url", stack.url(.payment, "").absoluteString, "--notification-url", stack.url(.notification, "").absoluteString,
            "--keys", stack.keys.path,
        ], timeout: 60)
    }

    static func spans(_ file: URL) throws -> [Span] {
        guard let data = FileManager.default.contents(atPath: file.path) else { return [] }
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").map {
            try JSONDecoder().decode(Span.self, from: Data($0.utf8))
        }
    }

    static func jsonLines(_ log: String) -> [[String: Any]] {
        log.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func poll<T>(_ what: String, timeout: TimeInterval, detail: () -> String = { "" }, _ probe: () throws -> T?) throws -> T {
        try Self.poll(what, timeout: timeout, detail: detail, probe)
    }

    static func poll<T>(_ what: String, timeout: TimeInterval, detail: () -> String = { "" }, _ probe: () throws -> T?) throws -> T {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let value = try probe() { return value }
            usleep(100_000)
        }
        throw SagaStack.Failure(description: "timed out after \(timeout) s waiting for \(what) \(detail())")
    }
}
