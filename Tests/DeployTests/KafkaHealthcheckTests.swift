@testable import DevClusterTesting
import Foundation
import XCTest

/// The brokers' health check, run for real. The brokers speak TLS and require a client
/// certificate on every listener, so the check sends a TLS ClientHello and wants a ServerHello:
/// against Java's TLS set up as a broker's (BrokerTLSServer: the keystore and CA make-pki.sh
/// makes, client certificates required) it passes; against a plaintext Kafka broker (the dev
/// cluster's, librdkafka's mock), an HTTP server or nothing, it fails. It must not start a JVM.
final class KafkaHealthcheckTests: XCTestCase {
    /// Where the check connects in the container: the node's own INTERNAL listener.
    static let target = "/dev/tcp/127.0.0.1/9092"

    func healthcheck() throws -> (shell: String, script: String) {
        let services = try Deploy.services()
        let nodes = services.values.filter { $0.image?.hasPrefix("apache/kafka:") == true }
        XCTAssertEqual(nodes.count, 3)
        let checks = Set(nodes.map(\.healthcheckTest))
        XCTAssertEqual(checks.count, 1, "one health check for every broker")
        let test = try XCTUnwrap(checks.first)
        guard test.count == 4, test[0] == "CMD", test[2] == "-c" else {
            throw Failure("the Kafka health check should be [\"CMD\", \"bash\", \"-c\", script], is \(test)")
        }
        // Compose turns `$$` into `$` before the container sees the script.
        return (test[1], withComposeDefaults(test[3]))
    }

    func run(_ script: String, against hostAndPort: String) throws -> CommandResult {
        let (host, port) = try split(hostAndPort)
        let pointed = script.replacingOccurrences(of: Self.target, with: "/dev/tcp/\(host)/\(port)")
        return try runCommand("/bin/bash", ["-c", pointed], in: Deploy.root, timeout: 30)
    }

    func split(_ hostAndPort: String) throws -> (String, String) {
        guard let colon = hostAndPort.lastIndex(of: ":") else { throw Failure("no port in \(hostAndPort)") }
        return (String(hostAndPort[..<colon]), String(hostAndPort[hostAndPort.index(after: colon)...]))
    }

    func testTheCheckIsCheapAndAsksTheBrokerItself() throws {
        let (shell, script) = try healthcheck()
        XCTAssertEqual(shell, "bash", "/dev/tcp is bash's; the apache/kafka image has bash")
        for expensive in ["kafka-", "java", "/opt/kafka/bin"] {
            XCTAssertFalse(script.contains(expensive), "the health check must not start a JVM (\(expensive)): \(script)")
        }
        XCTAssertTrue(script.contains(Self.target), "the check asks this node's INTERNAL listener (\(Self.target))")
        let nodes = try Deploy.services().values.filter { $0.image?.hasPrefix("apache/kafka:") == true }
        for node in nodes {
            XCTAssertTrue(node.environment["KAFKA_LISTENERS"]?.contains("INTERNAL://:9092") ?? false,
                          "\(node.name) listens for containers on 9092, where the check connects")
        }
    }

    func testTheCheckPassesOnlyAgainstATLSListener() throws {
        let (_, script) = try healthcheck()
        let pki = try TestPKI.make(["kafka-1"])
        defer { try? FileManager.default.removeItem(at: pki) }
        let tls = try BrokerTLSServer(pki: pki, identity: "kafka-1")
        defer { tls.stop() }
        let healthy = try run(script, against: "127.0.0.1:\(tls.port)")
        XCTAssertEqual(healthy.status, 0, "a TLS listener that requires client certificates answers with a ServerHello: \(healthy.stderr)")
        XCTAssertTrue(try tls.nextOutcome(timeout: 20).hasPrefix("failed"), "the check shows no certificate, so it gets no further")

        // A broker that speaks Kafka in plaintext is not what compose runs.
        let cluster = try DevClusterHarness()
        defer { cluster.stop() }
        let broker = try XCTUnwrap(cluster.bootstrap.split(separator: ",").first.map(String.init))
        XCTAssertNotEqual(try run(script, against: broker).status, 0, "a plaintext Kafka broker fails the check")

        // The dev cluster's control API is HTTP: it answers, but not with TLS.
        let control = try XCTUnwrap(URLComponents(string: cluster.controlURL))
        let http = try run(script, against: "127.0.0.1:\(try XCTUnwrap(control.port))")
        XCTAssertNotEqual(http.status, 0, "an HTTP server is not a broker")

        let closed = try run(script, against: "127.0.0.1:\(try FreePorts.one())")
        XCTAssertNotEqual(closed.status, 0, "nothing listening")
    }

}

