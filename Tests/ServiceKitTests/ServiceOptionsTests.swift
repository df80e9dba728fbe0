import Foundation
import Kafka
import ServiceKit
import XCTest

/// How a service reads its Kafka settings from flags and an explicit environment
/// (Services/API.md: the flag wins; real Kafka unless told otherwise).
final class ServiceOptionsTests: XCTestCase {
    var bootstrapFile: URL!

    override func setUpWithError() throws {
        bootstrapFile = FileManager.default.temporaryDirectory.appendingPathComponent("bootstrap-\(UUID().uuidString)")
        try "file-broker:9092\n".write(to: bootstrapFile, atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: bootstrapFile)
    }

    func kafka(_ arguments: [String], _ environment: [String: String], service: ServiceName = .inventory) throws -> KafkaConfiguration {
        try ServiceOptions.parse(arguments + ["--seed-file", "/seed.json"] + Self.keys).resolve(for: service, environment: environment).kafka
    }

    static let keys = ["--jwks", "/keys/jwks.json", "--signing-key-file", "/keys/events/inventory.key", "--keyring-file", "/keys/keyring.json"]

    /// A service without its keys does not start, and says which setting is missing.
    func testTheKeysAreRequired() throws {
        for (index, flag) in ["--jwks", "--signing-key-file", "--keyring-file"].enumerated() {
            var arguments = ["--bootstrap", "k:9092", "--seed-file", "/seed.json"] + Self.keys
            arguments.removeSubrange(2 * index + 4 ... 2 * index + 5)
            do {
                _ = try ServiceOptions.parse(arguments).resolve(for: .inventory, environment: [:])
                XCTFail("started without \(flag)")
            } catch {
                XCTAssertTrue(ServiceOptions.message(for: error).contains(flag), ServiceOptions.message(for: error))
            }
        }
    }

    func servers(_ arguments: [String], _ environment: [String: String]) throws -> String? {
        try kafka(arguments, environment)["bootstrap.servers"]
    }

    func refusal(_ arguments: [String], _ environment: [String: String]) -> String {
        refusalMessage { _ = try kafka(arguments, environment) }
    }

    func testEitherBootstrapFlagBeatsBothVariables() throws {
        let file = bootstrapFile.path
        XCTAssertEqual(try servers(["--bootstrap-file", file], ["KAFKA_BOOTSTRAP": "env-broker:9092"]), "file-broker:9092",
                       "--bootstrap-file beats KAFKA_BOOTSTRAP")
        XCTAssertEqual(try servers(["--bootstrap", "flag-broker:9092"], ["KAFKA_BOOTSTRAP_FILE": file]), "flag-broker:9092",
                       "--bootstrap beats KAFKA_BOOTSTRAP_FILE")
        XCTAssertEqual(try servers(["--bootstrap", "flag-broker:9092"], ["KAFKA_BOOTSTRAP": "env-broker:9092"]), "flag-broker:9092")
        // Within one source the list wins, as before.
        XCTAssertEqual(try servers([], ["KAFKA_BOOTSTRAP": "env-broker:9092", "KAFKA_BOOTSTRAP_FILE": file]), "env-broker:9092")
        XCTAssertEqual(try servers(["--bootstrap", "flag-broker:9092", "--bootstrap-file", file], [:]), "flag-broker:9092")
        XCTAssertEqual(try servers([], ["KAFKA_BOOTSTRAP_FILE": file]), "file-broker:9092")
        XCTAssertEqual(try servers([], ["KAFKA_BOOTSTRAP": "", "KAFKA_BOOTSTRAP_FILE": file]), "file-broker:9092",
                       "an empty variable counts as unset")

        XCTAssertTrue(refusal([], [:]).contains("set KAFKA_BOOTSTRAP"), refusal([], [:]))
        let missing = refusal(["--bootstrap-file", "/nonexistent/bootstrap"], ["KAFKA_BOOTSTRAP": "env-broker:9092"])
        XCTAssertTrue(missing.contains("/nonexistent/bootstrap (--bootstrap-file)"), missing)
        XCTAssertTrue(refusal(["--bootstrap", ""], [:]).contains("empty"), refusal(["--bootstrap", ""], [:]))
    }

    func testRealKafkaUnlessTheDevClusterTuningIsAskedFor() throws {
        let real = try kafka(["--bootstrap", "k:9092"], [:])
        XCTAssertEqual(real["session.timeout.ms"], "10000", "real Kafka: 10 s, not librdkafka's 45 s")
        XCTAssertEqual(real["heartbeat.interval.ms"], "3000")
        XCTAssertNil(real["fetch.wait.max.ms"], "no dev-cluster tuning by default")
        XCTAssertNil(real["socket.timeout.ms"])
        XCTAssertNil(real["group.instance.id"], "no static membership by default")

        for tuned in [try kafka(["--bootstrap", "k:9092", "--dev-cluster-tuning", "true"], [:]),
                      try kafka(["--bootstrap", "k:9092"], ["KAFKA_DEV_CLUSTER_TUNING": "true"])] {
            XCTAssertEqual(tuned["session.timeout.ms"], "3000")
            XCTAssertEqual(tuned["heartbeat.interval.ms"], "500")
            XCTAssertEqual(tuned["fetch.wait.max.ms"], "10")
        }
        let flagWins = try kafka(["--bootstrap", "k:9092", "--dev-cluster-tuning", "false"], ["KAFKA_DEV_CLUSTER_TUNING": "true"])
        XCTAssertNil(flagWins["fetch.wait.max.ms"])
        XCTAssertTrue(refusal(["--bootstrap", "k", "--dev-cluster-tuning", "maybe"], [:]).contains("true or false"))
    }

    func testSessionTimeoutIsASetting() throws {
        let fromEnvironment = try kafka(["--bootstrap", "k:9092"], ["KAFKA_SESSION_TIMEOUT_MS": "20000"])
        XCTAssertEqual(fromEnvironment["session.timeout.ms"], "20000")
        XCTAssertEqual(fromEnvironment["heartbeat.interval.ms"], "3000")
        // Given explicitly, it also wins over the dev-cluster tuning's 3 s.
        let overTuning = try kafka(["--bootstrap", "k:9092", "--dev-cluster-tuning", "true", "--session-timeout-ms", "6000"],
                                   ["KAFKA_SESSION_TIMEOUT_MS": "20000"])
        XCTAssertEqual(overTuning["session.timeout.ms"], "6000")
        XCTAssertEqual(overTuning["heartbeat.interval.ms"], "2000", "a third of the session")
        XCTAssertEqual(try kafka(["--bootstrap", "k:9092", "-X", "session.timeout.ms=7000"], [:])["session.timeout.ms"], "7000",
                       "-X wins over everything")
        XCTAssertTrue(refusal(["--bootstrap", "k"], ["KAFKA_SESSION_TIMEOUT_MS": "10s"]).contains("must be an integer"))
        let tooShort = refusal(["--bootstrap", "k", "--session-timeout-ms", "500"], [:])
        XCTAssertTrue(tooShort.contains("--session-timeout-ms / KAFKA_SESSION_TIMEOUT_MS must be 1000...3600000"), tooShort)
    }

    func testStaticMembershipNamesTheInstanceStably() throws {
        let named = try kafka(["--bootstrap", "k:9092"], ["KAFKA_STATIC_MEMBERSHIP": "true", "INSTANCE_ID": "inventory-a"])
        XCTAssertEqual(named["group.instance.id"], "inventory-inventory-a")
        let flag = try kafka(["--bootstrap", "k:9092", "--static-membership", "true", "--instance-id", "x1"], [:], service: .payment)
        XCTAssertEqual(flag["group.instance.id"], "payment-x1")

        // Without INSTANCE_ID: the host name (a container's is stable across its restarts),
        // not the default instance id, which carries the process id.
        var buffer = [CChar](repeating: 0, count: 256)
        XCTAssertEqual(gethostname(&buffer, 255), 0)
        let host = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let unnamed = try kafka(["--bootstrap", "k:9092"], ["KAFKA_STATIC_MEMBERSHIP": "true"])
        XCTAssertEqual(unnamed["group.instance.id"], "inventory-\(host)")

        let bad = refusal(["--bootstrap", "k"], ["KAFKA_STATIC_MEMBERSHIP": "true", "INSTANCE_ID": "my instance"])
        XCTAssertTrue(bad.contains("INSTANCE_ID of letters, digits"), bad)
        XCTAssertNil(try kafka(["--bootstrap", "k:9092", "--static-membership", "false"],
                               ["KAFKA_STATIC_MEMBERSHIP": "true", "INSTANCE_ID": "a"])["group.instance.id"])
    }
}

/// What the services print for settings they refuse, or "accepted".
func refusalMessage(_ attempt: () throws -> Void) -> String {
    do {
        try attempt()
        return "accepted"
    } catch {
        return ServiceOptions.message(for: error)
    }
}
