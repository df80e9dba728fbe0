import Foundation
import Kafka
import ServiceKit
import XCTest

/// How a service maps its KAFKA_TLS_* settings onto librdkafka's properties, and what it says
/// when one is wrong (Services/API.md). The files are real PEM from deploy/pki/make-pki.sh.
final class KafkaTLSSettingsTests: XCTestCase {
    /// Made once, on first use, for the whole class.
    static let pki: URL = {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kafka-tls-\(UUID().uuidString)")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("deploy/pki/make-pki.sh").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script, folder.path, "order"]
        process.environment = ProcessInfo.processInfo.environment.merging(["PKI_CHOWN": "false", "PKI_APP_KEYS": "false"]) { $1 }
        process.standardError = FileHandle.nullDevice
        try? process.run()
        process.waitUntilExit()
        return folder
    }()

    override class func tearDown() {
        try? FileManager.default.removeItem(at: pki)
        super.tearDown()
    }

    override func setUpWithError() throws {
        XCTAssertTrue(FileManager.default.fileExists(atPath: file("order/tls.key")), "make-pki.sh made no key in \(Self.pki.path)")
    }

    func file(_ name: String) -> String { Self.pki.appendingPathComponent(name).path }

    var tlsEnvironment: [String: String] {
        ["KAFKA_BOOTSTRAP": "kafka-1:9092", "KAFKA_TLS_CA_FILE": file("order/ca.crt"),
         "KAFKA_TLS_CERT_FILE": file("order/tls.crt"), "KAFKA_TLS_KEY_FILE": file("order/tls.key")]
    }

    func kafka(_ arguments: [String], _ environment: [String: String]) throws -> KafkaConfiguration {
        try ServiceOptions.parse(arguments + ["--seed-file", "/seed.json"] + ServiceOptionsTests.keys).resolve(for: .order, environment: environment).kafka
    }

    func refusal(_ arguments: [String], _ environment: [String: String]) -> String {
        refusalMessage { _ = try kafka(arguments, environment) }
    }

    func testTheVariablesBecomeLibrdkafkasSSLProperties() async throws {
        let kafka = try kafka([], tlsEnvironment)
        XCTAssertEqual(kafka["security.protocol"], "ssl")
        XCTAssertEqual(kafka["ssl.ca.location"], file("order/ca.crt"))
        XCTAssertEqual(kafka["ssl.certificate.location"], file("order/tls.crt"))
        XCTAssertEqual(kafka["ssl.key.location"], file("order/tls.key"))
        XCTAssertEqual(kafka["ssl.endpoint.identification.algorithm"], "https", "the broker's name is checked against its certificate")
        XCTAssertNil(kafka["ssl.key.password"], "no password file given, none set")
        // librdkafka takes the set and loads the files: it refuses an unknown key, a value it
        // cannot use, or a key that does not match its certificate, when the client is made.
        let producer = try KafkaProducer(configuration: kafka)
        await producer.close()
    }

    func testFlagsBeatTheVariablesAndPlaintextStaysPlaintext() throws {
        let other = FileManager.default.temporaryDirectory.appendingPathComponent("ca-\(UUID().uuidString).pem")
        try FileManager.default.copyItem(atPath: file("order/ca.crt"), toPath: other.path)
        defer { try? FileManager.default.removeItem(at: other) }
        XCTAssertEqual(try kafka(["--kafka-tls-ca-file", other.path], tlsEnvironment)["ssl.ca.location"], other.path)

        let plain = try kafka([], ["KAFKA_BOOTSTRAP": "k:9092"])
        for key in ["security.protocol", "ssl.ca.location", "ssl.certificate.location", "ssl.key.location"] {
            XCTAssertNil(plain[key], "no TLS setting given: \(key) stays unset (the dev cluster speaks plaintext)")
        }
    }

    func testTheKeyPasswordComesFromItsFileWithoutTheLineBreak() throws {
        let secret = FileManager.default.temporaryDirectory.appendingPathComponent("key-password-\(UUID().uuidString)")
        try "s3cret-from-a-file\n".write(to: secret, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: secret) }
        var environment = tlsEnvironment
        environment["KAFKA_TLS_KEY_PASSWORD_FILE"] = secret.path
        XCTAssertEqual(try kafka([], environment)["ssl.key.password"], "s3cret-from-a-file")
    }

    /// A missing or wrong file stops the start with the setting's name, not a librdkafka error later.
    func testAMissingOrWrongFileIsAStartUpErrorNamingTheSetting() throws {
        var environment = tlsEnvironment
        environment["KAFKA_TLS_CA_FILE"] = "/nonexistent/ca.crt"
        let missing = refusal([], environment)
        XCTAssertTrue(missing.contains("KAFKA_TLS_CA_FILE=/nonexistent/ca.crt: no such file"), missing)

        let flag = refusal(["--kafka-tls-key-file", "/nonexistent/tls.key"], tlsEnvironment)
        XCTAssertTrue(flag.contains("--kafka-tls-key-file=/nonexistent/tls.key: no such file"), flag)

        environment = tlsEnvironment
        environment["KAFKA_TLS_CERT_FILE"] = file("order/tls.key")
        let swapped = refusal([], environment)
        XCTAssertTrue(swapped.contains("KAFKA_TLS_CERT_FILE") && swapped.contains("no PEM CERTIFICATE"), swapped)

        environment = tlsEnvironment
        environment["KAFKA_TLS_KEY_FILE"] = nil
        let lonely = refusal([], environment)
        XCTAssertTrue(lonely.contains("KAFKA_TLS_CERT_FILE is given without its private key") && lonely.contains("KAFKA_TLS_KEY_FILE"), lonely)

        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("empty-\(UUID().uuidString)")
        try "\n".write(to: empty, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: empty) }
        environment = tlsEnvironment
        environment["KAFKA_TLS_KEY_PASSWORD_FILE"] = empty.path
        let blank = refusal([], environment)
        XCTAssertTrue(blank.contains("KAFKA_TLS_KEY_PASSWORD_FILE") && blank.contains("is empty"), blank)
    }

    /// The attack: a secret passed as `-X` would be readable by every user in the process list.
    func testASecretGivenAsDashXIsRefusedAndNotUsed() throws {
        for key in ["ssl.key.password", "SSL.KEY.PASSWORD", "sasl.password", "ssl.keystore.password", "ssl.key.pem"] {
            let message = refusal(["-X", "\(key)=hunter2"], tlsEnvironment)
            XCTAssertTrue(message.contains("puts a secret on the command line"), "\(key): \(message)")
            XCTAssertFalse(message.contains("hunter2"), "the refusal must not echo the secret: \(message)")
        }
        // Anything else still goes through, and wins.
        XCTAssertEqual(try kafka(["-X", "ssl.endpoint.identification.algorithm=none"], tlsEnvironment)["ssl.endpoint.identification.algorithm"], "none")
        XCTAssertTrue(refusal(["-X", "novalue"], tlsEnvironment).contains("-X expects key=value"))
    }

    func testTheSettingsAreInTheCatalog() {
        let variables = Set(SettingsCatalog.settings(of: .payment).map(\.environment))
        for variable in [KafkaTLS.caVariable, KafkaTLS.certificateVariable, KafkaTLS.keyVariable, KafkaTLS.keyPasswordVariable] {
            XCTAssertTrue(variables.contains(variable), "SettingsCatalog lists \(variable)")
        }
    }
}
