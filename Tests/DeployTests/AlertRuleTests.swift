import Foundation
import XCTest
import Yams

/// The alert rules (deploy/alerts): promtool accepts them and their unit tests pass, every
/// metric a rule reads is one the services export, every alert the issue names is there, and
/// Prometheus loads the file and sends to the Alertmanager of the compose stack.
final class AlertRuleTests: XCTestCase {
    static let rules = Deploy.folder.appendingPathComponent("alerts/saga-rules.yml")
    static let ruleTests = Deploy.folder.appendingPathComponent("alerts/saga-rules.test.yml")

    func testPromtoolAcceptsTheRulesAndTheirUnitTestsPass() throws {
        // .ci/run installs Debian's prometheus package (promtool) and runs the same two commands.
        guard let promtool = findOnPath("promtool") else { throw XCTSkip("promtool not installed (apt-get install prometheus)") }
        let check = try runCommand(promtool, ["check", "rules", Self.rules.path], in: Deploy.root)
        XCTAssertEqual(check.status, 0, "promtool check rules:\n\(check.stdout)\(check.stderr)")
        let test = try runCommand(promtool, ["test", "rules", Self.ruleTests.path], in: Deploy.root)
        XCTAssertEqual(test.status, 0, "promtool test rules:\n\(test.stdout)\(test.stderr)")
    }

    /// A rule over a metric nobody exports never fires: each name must be a metric label in the
    /// services' sources (or Prometheus's own `up`).
    func testEveryMetricARuleReadsIsExported() throws {
        let sources = try Self.swiftSources(under: ["Shared", "Services"])
        let expressions = try Self.alerts().map(\.expr)
        XCTAssertFalse(expressions.isEmpty)
        let pattern = try NSRegularExpression(pattern: #"\b([a-z][a-z0-9_]*)\s*(\{|\[|\)|\s*[<>=!]|$)"#)
        var names = Set<String>()
        for expr in expressions {
            let range = NSRange(expr.startIndex..., in: expr)
            for match in pattern.matches(in: expr, range: range) {
                let name = String(expr[Range(match.range(at: 1), in: expr)!])
                if name.contains("_") { names.insert(name) }
            }
        }
        names.subtract(["clamp_min"])
        XCTAssertTrue(names.isSuperset(of: ["messaging_consumer_lag", "messaging_outbox_oldest_age_seconds", "messaging_dead_lettered_total",
                                            "saga_orders", "messaging_relay_leader", "service_ready"]), "\(names.sorted())")
        for name in names {
            XCTAssertTrue(sources.contains("label: \"\(name)\""), "\(name) is read by a rule but exported by no service")
        }
    }

    func testTheAlertsAnOperatorMustHearAboutAreThere() throws {
        let alerts = try Self.alerts()
        let names = Set(alerts.map(\.name))
        for name in ["ConsumerStalledWithLag", "OutboxOldestRowTooOld", "DeadLettersArriving", "SagaTimeoutsAboveFraction",
                     "RelayWithoutLease", "ServiceNotReady"] {
            XCTAssertTrue(names.contains(name), "no alert \(name)")
        }
        for alert in alerts {
            XCTAssertFalse(alert.severity.isEmpty, "\(alert.name) has no severity label")
            XCTAssertFalse(alert.summary.isEmpty, "\(alert.name) has no summary")
        }
        // Each rule has a unit test in saga-rules.test.yml.
        let tests = try Deploy.text(Self.ruleTests)
        for name in names { XCTAssertTrue(tests.contains("alertname: \(name)"), "\(name) has no promtool unit test") }
    }

    func testPrometheusLoadsTheRulesAndSendsToAlertmanager() throws {
        let config = try Deploy.yaml(Deploy.prometheusConfig)
        XCTAssertEqual(YAMLValue.strings(config["rule_files"]), ["/etc/prometheus/rules/saga-rules.yml"])
        let services = YAMLValue.mapping(try Deploy.yaml(Deploy.composeFile)["services"]) ?? [:]
        let prometheus = YAMLValue.mapping(services["prometheus"]) ?? [:]
        XCTAssertTrue(YAMLValue.strings(prometheus["volumes"]).contains("./alerts/saga-rules.yml:/etc/prometheus/rules/saga-rules.yml:ro"))
        let alerting = YAMLValue.mapping(config["alerting"]) ?? [:]
        let targets = (alerting["alertmanagers"] as? [Any] ?? []).flatMap { manager in
            ((YAMLValue.mapping(manager)?["static_configs"] as? [Any]) ?? []).flatMap { YAMLValue.strings(YAMLValue.mapping($0)?["targets"]) }
        }
        XCTAssertEqual(targets, ["alertmanager:9093"])

        let alertmanager = try XCTUnwrap(YAMLValue.mapping(services["alertmanager"]), "an alertmanager service")
        XCTAssertEqual(YAMLValue.strings(alertmanager["profiles"]), ["metrics"], "beside Prometheus")
        XCTAssertEqual(YAMLValue.strings(alertmanager["ports"]), ["127.0.0.1:9093:9093"])
        XCTAssertEqual(YAMLValue.scalar(alertmanager["read_only"]), "true")
        XCTAssertEqual(YAMLValue.strings(alertmanager["cap_drop"]), ["ALL"])
        XCTAssertEqual(YAMLValue.strings(alertmanager["security_opt"]), ["no-new-privileges:true"])
        XCTAssertTrue(YAMLValue.strings(alertmanager["command"]).contains("--cluster.listen-address="), "no gossip listener")
        let route = YAMLValue.mapping(try Deploy.yaml(Deploy.folder.appendingPathComponent("alertmanager.yml"))["route"]) ?? [:]
        XCTAssertEqual(YAMLValue.scalar(route["receiver"]), "operators")
    }

    func testJaegerIsVersionTwoWithItsReceiverInsideTheNetwork() throws {
        let services = YAMLValue.mapping(try Deploy.yaml(Deploy.composeFile)["services"]) ?? [:]
        let jaeger = try XCTUnwrap(YAMLValue.mapping(services["jaeger"]))
        let image = try XCTUnwrap(YAMLValue.scalar(jaeger["image"]))
        XCTAssertTrue(image.hasPrefix("jaegertracing/jaeger:2."), "Jaeger v1 (all-in-one) reached its end of life: \(image)")
        XCTAssertEqual(YAMLValue.strings(jaeger["command"]), ["--config", "/etc/jaeger/config.yaml"])
        let config = try Deploy.yaml(Deploy.folder.appendingPathComponent("jaeger/config.yaml"))
        let receivers = YAMLValue.mapping(config["receivers"]) ?? [:]
        let otlp = YAMLValue.mapping(YAMLValue.mapping(receivers["otlp"])?["protocols"]) ?? [:]
        XCTAssertEqual(YAMLValue.scalar(YAMLValue.mapping(otlp["http"])?["endpoint"]), "0.0.0.0:4318", "the services' exporter reaches it")
        XCTAssertNil(otlp["grpc"], "the services export OTLP/HTTP only")
    }

    struct Alert {
        var name: String
        var expr: String
        var severity: String
        var summary: String
    }

    static func alerts() throws -> [Alert] {
        let document = try Deploy.yaml(rules)
        var alerts: [Alert] = []
        for group in document["groups"] as? [Any] ?? [] {
            for rule in YAMLValue.mapping(group)?["rules"] as? [Any] ?? [] {
                guard let rule = YAMLValue.mapping(rule), let name = YAMLValue.scalar(rule["alert"]) else { continue }
                alerts.append(Alert(name: name, expr: YAMLValue.scalar(rule["expr"]) ?? "",
                                    severity: YAMLValue.scalar(YAMLValue.mapping(rule["labels"])?["severity"]) ?? "",
                                    summary: YAMLValue.scalar(YAMLValue.mapping(rule["annotations"])?["summary"]) ?? ""))
            }
        }
        return alerts
    }

    static func swiftSources(under folders: [String]) throws -> String {
        var text = ""
        for folder in folders {
            let root = Deploy.root.appendingPathComponent(folder)
            guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { continue }
            for case let url as URL in walker where url.pathExtension == "swift" {
                text += try Deploy.text(url)
            }
        }
        return text
    }
}
