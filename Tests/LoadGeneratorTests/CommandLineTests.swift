import Foundation
import Testing
@testable import LoadGenerator

@Suite("Command line and reports")
struct CommandLineTests {
    @Test("Kafka settings come from the flags, then the environment, like the services read them")
    func kafkaOptions() throws {
        let fromEnvironment = try KafkaOptions.parse([]).configuration(environment: ["KAFKA_BOOTSTRAP": "k1:9092", "KAFKA_DEV_CLUSTER_TUNING": "false"])
        #expect(fromEnvironment["bootstrap.servers"] == "k1:9092")
        #expect(fromEnvironment["session.timeout.ms"] == nil)
        let fromFlags = try KafkaOptions.parse(["--bootstrap", "k2:9092", "-X", "client.id=lg"]).configuration(environment: ["KAFKA_BOOTSTRAP": "k1:9092"])
        #expect(fromFlags["bootstrap.servers"] == "k2:9092")
        #expect(fromFlags["session.timeout.ms"] == nil) // real Kafka unless the dev cluster tuning is asked for
        #expect(fromFlags["client.id"] == "lg")
        let tuned = try KafkaOptions.parse(["--bootstrap", "k2:9092", "--dev-cluster-tuning", "true"]).configuration(environment: [:])
        #expect(tuned["session.timeout.ms"] == "3000")
        let tunedByEnvironment = try KafkaOptions.parse(["--bootstrap", "k2:9092"]).configuration(environment: ["KAFKA_DEV_CLUSTER_TUNING": "true"])
        #expect(tunedByEnvironment["fetch.wait.max.ms"] == "10")

        // Either bootstrap flag beats both variables: a file on the command line, KAFKA_BOOTSTRAP exported.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("loadgen-bootstrap-\(UUID().uuidString)")
        try "file-broker:9092\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let fileFlag = try KafkaOptions.parse(["--bootstrap-file", file.path]).configuration(environment: ["KAFKA_BOOTSTRAP": "k1:9092"])
        #expect(fileFlag["bootstrap.servers"] == "file-broker:9092")
        let listFlag = try KafkaOptions.parse(["--bootstrap", "k2:9092"]).configuration(environment: ["KAFKA_BOOTSTRAP_FILE": file.path])
        #expect(listFlag["bootstrap.servers"] == "k2:9092")
        #expect(throws: (any Error).self) { try KafkaOptions.parse([]).configuration(environment: [:]) }
        #expect(throws: (any Error).self) { try KafkaOptions.parse(["--bootstrap", "k", "--dev-cluster-tuning", "maybe"]).configuration(environment: [:]) }
    }

    @Test("service URLs default to the loopback ports of Services/API.md")
    func serviceURLs() throws {
        let urls = try ServiceURLOptions.parse(["--payment-url", "http://payment:9000/"]).resolve(environment: ["ORDER_URL": "http://order:80"])
        #expect(urls == ServiceURLs(order: "http://order:80", inventory: "http://127.0.0.1:8081",
                                    payment: "http://payment:9000", notification: "http://127.0.0.1:8083"))
        #expect(throws: (any Error).self) { try ServiceURLOptions.parse(["--order-url", "localhost:8080"]).resolve(environment: [:]) }
    }

    @Test("run refuses contradictory or impossible options before sending anything")
    func runValidation() {
        let base = ["--bootstrap", "k:1", "--seed-file", "seed.json", "--rate", "10"]
        #expect(throws: (any Error).self) { try RunCommand.parse(base) } // neither --orders nor --duration
        #expect(throws: (any Error).self) { try RunCommand.parse(base + ["--orders", "5", "--duration", "3"]) }
        #expect(throws: (any Error).self) { try RunCommand.parse(base + ["--orders", "5", "--out-of-stock-share", "0.6", "--payment-failure-share", "0.6"]) }
        #expect(throws: (any Error).self) { try RunCommand.parse(base + ["--orders", "5", "--rate", "0"]) }
        #expect(throws: Never.self) { try RunCommand.parse(base + ["--orders", "5"]) }
    }

    @Test("the JSON report carries config, counts, rate, latencies and the audit")
    func jsonReport() throws {
        var latencies = RunLatencies()
        latencies.accepted.record(.milliseconds(12))
        let report = RunReport(
            config: .init(services: try ServiceURLOptions.parse([]).resolve(environment: [:]), rate: 100, plannedOrders: 1000,
                          durationSeconds: 10, mix: ScenarioMix(), maxLines: 3, randomSeed: 1, connections: 25,
                          drainTimeoutSeconds: 60, audit: true),
            startedAt: "2026-01-01T00:00:00Z", sendSeconds: 10, achievedRate: 100, counts: RunCounts(sent: 1000, accepted: 1000),
            errors: 0, errorExamples: [], latencyMs: latencies.report, scenarios: [],
            drain: .init(seconds: 1, unfinished: 0, unfinishedExamples: []),
            audit: Auditor.audit(SagaWorld.consistent().snapshot), failures: [])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("loadgen-report-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try JSONReportWriter.write(report, to: path)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        for key in ["config", "counts", "achievedRate", "latencyMs", "scenarios", "drain", "audit", "failures"] {
            #expect(json[key] != nil, "missing \(key)")
        }
        let accepted = try #require((json["latencyMs"] as? [String: Any])?["accepted"] as? [String: Any])
        #expect(Set(accepted.keys) == ["count", "p50", "p90", "p99", "p999", "max"])
        let text = TextReport.render(report)
        #expect(text.contains("achieved 100 orders/s") && text.contains("audit: PASSED") && text.hasSuffix("RESULT: PASS"))
    }
}
