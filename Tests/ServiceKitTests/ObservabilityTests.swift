import Foundation
import Logging
@testable import Observability
import XCTest

/// The process-wide pieces of Shared/Observability that need no running service.
final class ObservabilityTests: XCTestCase {
    func testTracingIsOffUnlessTheEnvironmentAsksForIt() {
        XCTAssertFalse(TracingBootstrap.isRequested([:]))
        XCTAssertFalse(TracingBootstrap.isRequested(["OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"]))
        XCTAssertTrue(TracingBootstrap.isRequested(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"]))
        XCTAssertTrue(TracingBootstrap.isRequested(["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"]))
        XCTAssertTrue(TracingBootstrap.isRequested(["OTEL_TRACES_EXPORTER": "otlp"]))
        XCTAssertFalse(TracingBootstrap.isRequested(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"]))
        XCTAssertFalse(TracingBootstrap.isRequested(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "TRUE"]))
        XCTAssertFalse(TracingBootstrap.isRequested(["OTEL_EXPORTER_OTLP_ENDPOINT": " "]))
    }

    func testJSONLinesCarryMetadataAtTheTopLevelEscaped() throws {
        let lines = Lines()
        var handler = JSONLogHandler(label: "order-service", metadataProvider: Logger.MetadataProvider { ["trace-id": "abc"] },
                                     write: { lines.append($0) })
        handler.logLevel = .debug
        handler[metadataKey: "component"] = "relay"
        let logger = Logger(label: "order-service") { _ in handler }
        logger.info("a \"quoted\"\nline\u{1}", metadata: ["order-id": "O-1", "nested": ["k": ["v", "2"]]])
        let written = try XCTUnwrap(lines.all.first)
        XCTAssertTrue(written.hasSuffix("}\n") && written.filter { $0 == "\n" }.count == 1, written)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(written.utf8)) as? [String: Any])
        XCTAssertEqual(object["message"] as? String, "a \"quoted\"\nline\u{1}")
        XCTAssertEqual(object["level"] as? String, "info")
        XCTAssertEqual(object["label"] as? String, "order-service")
        XCTAssertEqual(object["order-id"] as? String, "O-1")
        XCTAssertEqual(object["trace-id"] as? String, "abc")
        XCTAssertEqual(object["component"] as? String, "relay")
        XCTAssertEqual((object["nested"] as? [String: Any])?["k"] as? [String], ["v", "2"])
        XCTAssertNotNil((object["ts"] as? String).flatMap { ISO8601DateFormatter.withMillis.date(from: $0) }, "\(object)")
    }

    func testProcessStatFieldsAreReadAfterTheCommandName() throws {
        // proc(5): a command name may hold spaces and parentheses.
        let line = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 500 0 0 0 150 25 0 0 20 0 7 0 1000 123456789 2048 18446744073709551615"
        let stat = try XCTUnwrap(ProcessMetrics.stat(line))
        XCTAssertEqual(stat.userTicks, 150)
        XCTAssertEqual(stat.systemTicks, 25)
        XCTAssertEqual(stat.threads, 7)
        XCTAssertEqual(stat.virtualBytes, 123_456_789)
        XCTAssertEqual(stat.residentPages, 2048)
        XCTAssertNotNil(ProcessMetrics.stat(), "this process's own /proc/self/stat")
        XCTAssertNil(ProcessMetrics.stat("garbage"))
    }
}

private final class Lines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}

extension ISO8601DateFormatter {
    static var withMillis: ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }
}
