import Foundation

/// A TLS server set up as a compose broker is (Tests/Tools/KafkaTLSServer.java: Java's JSSE,
/// the PKCS#12 keystore and CA files make-pki.sh makes, client certificates required), as a
/// child process of one test. It speaks no Kafka: it reports each connection's client principal,
/// or why the handshake failed. No Kafka broker can run here; this is its TLS layer.
///
///     let pki = try TestPKI.make(["kafka-1", "order"])
///     let server = try BrokerTLSServer(pki: pki, identity: "kafka-1")
///     defer { server.stop() }
///     let outcome = try server.nextOutcome(timeout: 20)   // "principal CN=order" or "failed ..."
final class BrokerTLSServer {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Tests/Support/DevClusterTesting/BrokerTLSServer.swift -> Tests/Tools/KafkaTLSServer.java.
    static let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Tools/KafkaTLSServer.java")

    let port: Int
    let host: String
    private let child: ChildProcess
    private var seen = 0

    init(pki: URL, identity: String, host: String = "127.0.0.1", startupTimeout: TimeInterval = 60) throws {
        guard let java = ["/usr/bin/java", "/usr/local/bin/java"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw Failure(description: "no java: the brokers' TLS is tested against Java's (apt-get install openjdk-17-jre-headless; .ci/run installs it)")
        }
        self.host = host
        let folder = pki.appendingPathComponent(identity)
        var attempt = 0
        while true {
            // A port below the kernel's ephemeral range; another one if it is taken.
            let port = Int.random(in: 30_000..<32_000)
            let child = try ChildProcess(executable: URL(fileURLWithPath: java), arguments: [
                Self.source.path, folder.appendingPathComponent("keystore.p12").path,
                folder.appendingPathComponent("keystore.password").path, folder.appendingPathComponent("ca.crt").path, "\(port)", host,
            ], name: "broker-tls-\(identity)")
            let deadline = Date().addingTimeInterval(startupTimeout)
            while !child.stdout.contains("listening") && child.isRunning && Date() < deadline { usleep(100_000) }
            if child.stdout.contains("listening") {
                self.port = port
                self.child = child
                return
            }
            child.kill()
            attempt += 1
            guard child.stderr.contains("BindException"), attempt < 3 else {
                throw Failure(description: "the TLS server did not listen on \(host):\(port) within \(Int(startupTimeout)) s: \(child.stderr)")
            }
        }
    }

    /// The server's report of the next connection: `principal <subject>` or `failed <reason>`.
    func nextOutcome(timeout: TimeInterval) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let outcomes = child.stdout.split(separator: "\n").map(String.init).filter { $0 != "listening" }
            if outcomes.count > seen {
                seen += 1
                return outcomes[seen - 1]
            }
            usleep(50_000)
        }
        throw Failure(description: "no connection reached the TLS server within \(Int(timeout)) s")
    }

    func stop() { child.kill() }
}

/// Keys and certificates from deploy/pki/make-pki.sh, in a temporary folder, owned by the test.
enum TestPKI {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("deploy/pki/make-pki.sh")

    static func make(_ identities: [String]) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("test-pki-\(UUID().uuidString.prefix(8))")
        let result = try ChildProcess.run("/usr/bin/env", ["PKI_CHOWN=false", "PKI_APP_KEYS=false", "bash", script.path, folder.path] + identities, timeout: 120)
        guard result.status == 0 else { throw BrokerTLSServer.Failure(description: "make-pki.sh failed: \(result.stderr)") }
        return folder
    }
}
