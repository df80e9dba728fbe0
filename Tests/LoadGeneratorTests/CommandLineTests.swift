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

    @Test("A bootstrap file beside the dev cluster's control file (a local-stack run folder) gets the dev-cluster settings unless told otherwise")
    func devClusterRunFolder() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("loadgen-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let bootstrap = folder.appendingPathComponent("bootstrap")
        try "127.0.0.1:9092\n".write(to: bootstrap, atomically: true, encoding: .utf8)
        let realKafka = try KafkaOptions.parse(["--bootstrap-file", bootstrap.path]).configuration(environment: [:])
        #expect(realKafka["fetch.wait.max.ms"] == nil, "no control file: real Kafka's defaults")

        try "http://127.0.0.1:4000\n".write(to: folder.appendingPathComponent("control"), atomically: true, encoding: .utf8)
        let byFlag = try KafkaOptions.parse(["--bootstrap-file", bootstrap.path]).configuration(environment: [:])
        #expect(byFlag["fetch.wait.max.ms"] == "10")
        let byEnvironment = try KafkaOptions.parse([]).configuration(environment: ["KAFKA_BOOTSTRAP_FILE": bootstrap.path])
        #expect(byEnvironment["fetch.wait.max.ms"] == "10")
        let refused = try KafkaOptions.parse(["--bootstrap-file", bootstrap.path, "--dev-cluster-tuning", "false"]).configuration(environment: [:])
        #expect(refused["fetch.wait.max.ms"] == nil, "an explicit false wins")
        let refusedByEnvironment = try KafkaOptions.parse(["--bootstrap-file", bootstrap.path]).configuration(environment: ["KAFKA_DEV_CLUSTER_TUNING": "false"])
        #expect(refusedByEnvironment["fetch.wait.max.ms"] == nil)
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
        let base = ["--bootstrap", "k:1", "--seed-file", "seed.json", "--rate", "10", "--keys", "/keys"]
        #expect(throws: (any Error).self) { try RunCommand.parse(base) } // neither --orders nor --duration
        #expect(throws: (any Error).self) { try RunCommand.parse(base + ["--orders", "5", "--duration", "3"]) }
        #expect(throws: (any Error).self) { try RunCommand.parse(base + ["--orders", "5", "--out-of-stock-share", "0.6", "--payment-failure-share", "0.6"]) }
        #expect(throws: (any Error).self) { try RunCommand.parse(base + ["--orders", "5", "--rate", "0"]) }
        #expect(throws: Never.self) { try RunCommand.parse(base + ["--orders", "5"]) }
        // Without the deployment's keys it can neither place orders nor read the audit's state.
        #expect(throws: (any Error).self) { try RunCommand.parse(Array(base.dropLast(2)) + ["--orders", "5"]) }
    }

    @Test("the JSON report carries config, counts, rate, latencies and the audit")
    func jsonReport() throws {
        var latencies = RunLatencies()
        latencies.accepted.record(.milliseconds(12))
        let report = RunReport(
            config: .init(services: try ServiceURLOptions.parse([]).resolve(environment: [:]), rate: 100, plannedOrders: 1000,
                          durationSeconds: 10, mix: ScenarioMix(), maxLines: 3, randomSeed: 1, connections: 25,
                          drainTimeoutSeconds: 60, audit: true, allowNotChecked: false),
            startedAt: "2026-01-01T00:00:00Z", sendSeconds: 10, achievedRate: 100, counts: RunCounts(sent: 1000, accepted: 1000),
            errors: 0, errorExamples: [], serverErrors: ServerErrorReport(), latencyMs: latencies.report, scenarios: [],
            drain: .init(seconds: 1, unfinished: 0, unfinishedExamples: []),
            audit: Auditor.audit(SagaWorld.consistent().snapshot), notChecked: [], verdict: .pass, failures: [])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("loadgen-report-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try JSONReportWriter.write(report, to: path)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        for key in ["config", "counts", "achievedRate", "serverErrors", "latencyMs", "scenarios", "drain", "audit", "notChecked", "verdict", "failures"] {
            #expect(json[key] != nil, "missing \(key)")
        }
        let accepted = try #require((json["latencyMs"] as? [String: Any])?["accepted"] as? [String: Any])
        #expect(Set(accepted.keys) == ["count", "p50", "p90", "p99", "p999", "max"])
        let text = TextReport.render(report)
        #expect(text.contains("achieved 100 orders/s") && text.contains("audit: PASSED") && text.hasSuffix("RESULT: PASS"))
        let decoded = try JSONDecoder().decode(RunReport.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(decoded.verdict == .pass && decoded.counts == report.counts, "matrix-report reads the reports back")
    }

    @Test("--instance NAME=URL names every instance the audit reads; the default is the four service URLs")
    func instances() throws {
        let urls = try ServiceURLOptions.parse([]).resolve(environment: [:])
        #expect(try InstanceOptions.parse([]).resolve(defaults: urls).map(\.name) == ["order", "inventory", "payment", "notification"])
        let two = try InstanceOptions.parse(["--instance", "payment-0=http://127.0.0.1:8082", "--instance", "payment-1=http://127.0.0.1:8092/"])
            .resolve(defaults: urls)
        #expect(two == [ServiceInstance(name: "payment-0", service: "payment", url: "http://127.0.0.1:8082"),
                        ServiceInstance(name: "payment-1", service: "payment", url: "http://127.0.0.1:8092")])
        #expect(throws: (any Error).self) { try InstanceOptions.parse(["--instance", "payment-1"]).resolve(defaults: urls) }
        #expect(throws: (any Error).self) { try InstanceOptions.parse(["--instance", "billing-0=http://x:1"]).resolve(defaults: urls) }
        #expect(throws: (any Error).self) { try InstanceOptions.parse(["--instance", "order-0=localhost:8080"]).resolve(defaults: urls) }
        #expect(ServiceInstance.service(ofInstance: "notification-12") == "notification")
        #expect(ServiceInstance.service(ofInstance: "order") == "order")
        #expect(throws: (any Error).self) { try RunCommand.parse(["--bootstrap", "k:1", "--seed-file", "s", "--rate", "1", "--orders", "1", "--recovery-bound", "0"]) }
    }

    @Test("the matrix table: one row per fault, what was not checked said once, a missing report is an ERROR")
    func matrixTable() throws {
        func report(verdict: Verdict, liveness: LivenessReport?, audit: AuditResult?) -> RunReport {
            RunReport(
                config: .init(services: ServiceURLs(order: "o", inventory: "i", payment: "p", notification: "n"), rate: 50, plannedOrders: 4000,
                              durationSeconds: 80, mix: ScenarioMix(), maxLines: 3, randomSeed: 1, connections: 12,
                              drainTimeoutSeconds: 120, audit: true, allowNotChecked: false),
                startedAt: "", sendSeconds: 80, achievedRate: 50, counts: RunCounts(sent: 4000, accepted: 3990, cancelled: ["timeout": 12]),
                errors: 10, errorExamples: [], serverErrors: ServerErrorReport(explained: ["broker-pause": 3]),
                latencyMs: RunLatencies().report, scenarios: [],
                drain: .init(seconds: 1, unfinished: 0, unfinishedExamples: []), audit: audit, liveness: liveness,
                notChecked: RunJudgement.notCheckedChecks(.init(
                    counts: RunCounts(), serverErrors: ServerErrorReport(), audit: audit, liveness: liveness, unfinished: 0,
                    drainTimeout: .seconds(1), allowNotChecked: false)),
                verdict: verdict,
                failures: verdict == .pass ? [] : ["HANG after broker-pause: recovery took 70 s, more than the 60 s bound"])
        }
        let recovery = WindowLiveness.Recovery(ordersSeconds: 70, ordersNeverEnded: 0, lagSeconds: nil, lagNotChecked: "endpoint missing",
                                               seconds: 70, hang: true, reason: "recovery took 70 s")
        let window = WindowLiveness(
            fault: "broker-pause", detail: nil, start: 0, end: 20_000, seconds: 20, touchedPartitions: [0, 3, 6, 9], acceptedDuring: 1000,
            confirmedDuring: 0,
            progress: .init(acceptedPerSecond: 50, baselineAcceptedPerSecond: 50, confirmedPerSecond: 0, baselineConfirmedPerSecond: 31.25,
                            scope: "untouched partitions (8 of 12)", stalled: true),
            recovery: recovery, timeoutCancellations: 9,
            felt: .init(evidence: ["control call /brokers/1/pause answered 200"], missing: []), restarts: .init(retries: 1, crashes: []))
        var world = SagaWorld.consistent()
        world.snapshot.instances = [InstanceState(instance: ServiceInstance(name: "order", service: "order", url: "u"), consumer: .missing,
                                                  metrics: [PrometheusSample(name: "messaging_skipped_total", labels: ["reason": "inbox"], value: 5)])]
        let table = MatrixTable(title: "fault matrix (test)", rows: [
            MatrixTable.row(fault: "broker-pause", report: report(verdict: .hang, liveness: .init(recoveryBoundSeconds: 60, windows: [window]),
                                                                 audit: Auditor.audit(world.snapshot))),
            MatrixTable.row(fault: "disk-full", report: nil, missing: "no report at x (the run did not finish)"),
        ])
        let row = table.rows[0]
        #expect(row.verdict == "HANG" && row.orders == 3990 && row.violations == 0 && row.cancelledByTimeout == 12)
        #expect(row.timeoutDuringFault == 9 && row.stalled && row.hang && row.duplicatesAbsorbed == 5)
        #expect(row.serverErrorsExplained == 3 && row.serverErrorsUnexplained == 0 && row.idempotencyMismatches == 0)
        #expect(row.felt == ["control call /brokers/1/pause answered 200"] && row.notFelt.isEmpty && row.restartRetries == 1)
        #expect(row.notChecked.contains("consumer lag after broker-pause: endpoint missing") && !row.notCheckedAllowed)
        #expect(table.rows[1].verdict == "ERROR")
        let text = table.render()
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0] == "fault matrix (test)")
        #expect(lines[1].hasPrefix("fault ") && lines[1].contains("recovery"))
        #expect(lines[3].hasPrefix("broker-pause  HANG     yes") && lines[3].contains("12 (9)") && lines[3].contains("0 (3)")
                && lines[3].contains("0.0|31.2 untouched STALLED"), "\(lines[3])")
        #expect(lines[4].hasPrefix("disk-full     ERROR"))
        #expect(text.contains("not checked: lost: endpoint missing: GET /consumer answered 404 on order (broker-pause)"))
        #expect(text.contains("disk-full: no report at x (the run did not finish)"))
    }
}
