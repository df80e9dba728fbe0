@testable import DevClusterTesting
import Foundation
import Kafka
@testable import KafkaTool
@testable import LoadGenerator
import XCTest

/// The load generator and kafka-tool read the same KAFKA_TLS_* settings as the services
/// (Services/API.md), carry the client id their ACLs name, refuse secrets as `-X`, and
/// `kafka-tool offsets` keeps the TLS settings. The files are real PEM from make-pki.sh.
final class ToolTLSSettingsTests: XCTestCase {
    static let pki: URL! = try? TestPKI.make(["loadgen"])

    override class func tearDown() {
        if let pki { try? FileManager.default.removeItem(at: pki) }
        super.tearDown()
    }

    var environment: [String: String] {
        let folder = Self.pki.appendingPathComponent("loadgen")
        return ["KAFKA_BOOTSTRAP": "kafka-1:9092", "KAFKA_TLS_CA_FILE": folder.appendingPathComponent("ca.crt").path,
                "KAFKA_TLS_CERT_FILE": folder.appendingPathComponent("tls.crt").path,
                "KAFKA_TLS_KEY_FILE": folder.appendingPathComponent("tls.key").path]
    }

    func assertTLS(_ configuration: KafkaConfiguration, clientID: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(configuration["security.protocol"], "ssl", file: file, line: line)
        XCTAssertEqual(configuration["ssl.certificate.location"], environment["KAFKA_TLS_CERT_FILE"], file: file, line: line)
        XCTAssertEqual(configuration["ssl.key.location"], environment["KAFKA_TLS_KEY_FILE"], file: file, line: line)
        XCTAssertEqual(configuration["ssl.ca.location"], environment["KAFKA_TLS_CA_FILE"], file: file, line: line)
        XCTAssertEqual(configuration["client.id"], clientID, "the name the ACLs' group prefix uses", file: file, line: line)
    }

    func testTheLoadGeneratorTakesTLSFromTheEnvironment() throws {
        XCTAssertNotNil(Self.pki, "make-pki.sh made the test's certificates")
        assertTLS(try KafkaOptions.parse([]).configuration(environment: environment), clientID: "loadgen")
        XCTAssertThrowsError(try KafkaOptions.parse(["-X", "ssl.key.password=hunter2"]).configuration(environment: environment)) { error in
            XCTAssertTrue("\(error)".contains("puts a secret on the command line") && !"\(error)".contains("hunter2"), "\(error)")
        }
        var missing = environment
        missing["KAFKA_TLS_CA_FILE"] = "/nonexistent/ca.crt"
        XCTAssertThrowsError(try KafkaOptions.parse([]).configuration(environment: missing)) { error in
            XCTAssertTrue("\(error)".contains("KAFKA_TLS_CA_FILE=/nonexistent/ca.crt: no such file"), "\(error)")
        }
    }

    func testKafkaToolTakesTLSFromTheEnvironmentInEverySubcommand() throws {
        XCTAssertNotNil(Self.pki)
        assertTLS(try ConnectionOptions.parse([]).configuration(environment: environment), clientID: "kafka-tool")
        // offsets builds its connection from its own options: the TLS settings still apply.
        let show = try Offsets.Show.parse(["--database", "sqlite:///tmp/x.db", "--group", "order"])
        XCTAssertTrue(show.connection.isGiven(environment: environment), "KAFKA_BOOTSTRAP names the cluster")
        assertTLS(try show.connection.configuration(environment: environment), clientID: "kafka-tool")
        let reset = try Offsets.Reset.parse(["--database", "sqlite:///tmp/x.db", "--group", "order", "--topic", "orders.v1",
                                             "--partition", "0", "--to-earliest", "--bootstrap", "kafka-2:9092"])
        let resetConfiguration = try reset.connection.configuration(environment: environment)
        assertTLS(resetConfiguration, clientID: "kafka-tool")
        XCTAssertEqual(resetConfiguration["bootstrap.servers"], "kafka-2:9092", "the flag wins")
        XCTAssertThrowsError(try ConnectionOptions.parse(["-X", "sasl.password=hunter2"]).configuration(environment: environment))
    }

    /// A partition reader joins no group but carries a group id: the client id and a dash, the
    /// prefix its ACLs allow.
    func testAnUnjoinedReadersGroupCarriesTheClientID() {
        XCTAssertTrue(KafkaConsumer.unjoinedGroupID(clientID: "loadgen").hasPrefix("loadgen-"))
        XCTAssertTrue(KafkaConsumer.unjoinedGroupID(clientID: nil).hasPrefix("unjoined-"))
        XCTAssertNotEqual(KafkaConsumer.unjoinedGroupID(clientID: "loadgen"), KafkaConsumer.unjoinedGroupID(clientID: "loadgen"))
    }
}
