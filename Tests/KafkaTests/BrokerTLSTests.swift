@testable import DevClusterTesting
import Foundation
import Kafka
import XCTest

/// The clients' side of the compose stack's mutual TLS, for real: librdkafka with the
/// properties `KafkaTLS` makes from the files make-pki.sh makes, against Java's TLS set up as a
/// broker's (BrokerTLSServer). No Kafka broker can run here and the dev cluster has no TLS, so
/// the server speaks TLS only and reports who connected; that is the layer under test.
/// Time limits: each connection attempt 3 s, each wait for the server's report 20 s, the
/// server's start 60 s.
final class BrokerTLSTests: XCTestCase {
    /// Made once, on first use: the stack's certificates, and an order certificate of another CA.
    static let pki: URL! = try? TestPKI.make(["kafka-1", "order"])
    static let otherPKI: URL! = try? TestPKI.make(["order"])

    override class func tearDown() {
        for folder in [pki, otherPKI].compactMap({ $0 }) { try? FileManager.default.removeItem(at: folder) }
        super.tearDown()
    }

    override func setUpWithError() throws {
        XCTAssertNotNil(Self.pki, "make-pki.sh made the test's certificates")
        XCTAssertNotNil(Self.otherPKI)
    }

    /// A client as compose configures one: TLS from files, verifying the broker's name.
    func configuration(server: BrokerTLSServer, dial host: String? = nil, identity: String = "order",
                       trust: URL? = nil, certificateFrom: URL? = nil) throws -> KafkaConfiguration {
        let own = (certificateFrom ?? Self.pki).appendingPathComponent(identity)
        let tls = try XCTUnwrap(KafkaTLS.resolve(
            caFile: (trust ?? Self.pki).appendingPathComponent("ca/ca.crt").path,
            certificateFile: own.appendingPathComponent("tls.crt").path, keyFile: own.appendingPathComponent("tls.key").path,
            keyPasswordFile: nil, environment: [:]))
        return KafkaConfiguration(bootstrapServers: "\(host ?? server.host):\(server.port)", try tls.properties())
            .merging(["socket.timeout.ms": "5000", "reconnect.backoff.max.ms": "1000"])
    }

    /// Makes librdkafka connect (a metadata request, which the server, speaking no Kafka,
    /// never answers) and returns what the server saw of the connection.
    func connect(_ configuration: KafkaConfiguration, to server: BrokerTLSServer) async throws -> String {
        let admin = try KafkaAdmin(configuration: configuration)
        _ = try? await admin.metadata(timeout: .seconds(3))
        await admin.close()
        return try server.nextOutcome(timeout: 20)
    }

    func testTheServiceCertificateIsTheClientsPrincipal() async throws {
        let server = try BrokerTLSServer(pki: Self.pki, identity: "kafka-1")
        defer { server.stop() }
        // By IP (the certificate's IP entry) and by name (its DNS entry), as EXTERNAL is dialled.
        let byAddress = try await connect(try configuration(server: server), to: server)
        XCTAssertEqual(byAddress, "principal CN=order")
        let byName = try await connect(try configuration(server: server, dial: "localhost"), to: server)
        XCTAssertEqual(byName, "principal CN=order")
    }

    /// A broker certificate that does not name the address dialled is refused by the client.
    func testABrokerNamedOtherwiseIsRefused() async throws {
        let server = try BrokerTLSServer(pki: Self.pki, identity: "kafka-1", host: "127.0.0.2")
        defer { server.stop() }
        let outcome = try await connect(try configuration(server: server), to: server)
        XCTAssertTrue(outcome.hasPrefix("failed"), "kafka-1's certificate names kafka-1, localhost and 127.0.0.1, not 127.0.0.2: \(outcome)")
    }

    /// A client that trusts another CA refuses the broker; a client certificate of another CA
    /// is refused by the broker, even with a service's name in it.
    func testAnotherCAIsRefusedBothWays() async throws {
        let server = try BrokerTLSServer(pki: Self.pki, identity: "kafka-1")
        defer { server.stop() }
        let distrusting = try await connect(try configuration(server: server, trust: Self.otherPKI), to: server)
        XCTAssertTrue(distrusting.hasPrefix("failed"), distrusting)
        let impostor = try await connect(try configuration(server: server, certificateFrom: Self.otherPKI), to: server)
        XCTAssertTrue(impostor.hasPrefix("failed"), "a certificate of another CA, CN=order: \(impostor)")
    }

    /// Without a certificate there is no connection: the broker requires one.
    func testAClientWithoutACertificateIsRefused() async throws {
        let server = try BrokerTLSServer(pki: Self.pki, identity: "kafka-1")
        defer { server.stop() }
        let tls = try XCTUnwrap(KafkaTLS.resolve(caFile: Self.pki.appendingPathComponent("ca/ca.crt").path, certificateFile: nil,
                                                 keyFile: nil, keyPasswordFile: nil, environment: [:]))
        let anonymous = KafkaConfiguration(bootstrapServers: "127.0.0.1:\(server.port)", try tls.properties())
        let outcome = try await connect(anonymous, to: server)
        XCTAssertTrue(outcome.hasPrefix("failed"), outcome)
    }
}
