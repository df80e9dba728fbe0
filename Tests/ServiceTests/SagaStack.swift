import Credentials
import DevClusterAPI
import Foundation
import Kafka
import SagaAPI
import ServiceKit
@testable import DevClusterTesting

#if canImport(Glibc)
import Glibc
#endif

/// The whole platform as child processes for end-to-end tests: a dev cluster and the four
/// real service executables, each on its own SQLite file and a free port, all in one temp
/// directory, with a fresh set of keys (`keys/`: tokens, event signatures). Services can be
/// killed (SIGKILL), stopped (SIGSTOP) and restarted.
final class SagaStack: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let cluster: DevClusterHarness
    let directory: URL
    let seedFile: URL
    /// The keys folder (`saga-admin keys init`'s layout): every service's flags point into it.
    let keys: URL
    let tokens: TokenIssuer
    let sagaTimeoutMs: Int
    private(set) var ports: [ServiceName: Int] = [:]
    private var processes: [ServiceName: ChildProcess] = [:]
    private var starts: [ServiceName: Int] = [:]
    private var minted: [String: String] = [:]
    private let lock = NSLock()

    /// Notification's channel flags; default: the file channel in the stack's directory.
    let notificationArguments: [String]?
    /// Each service's DATABASE_URL; default: a SQLite file in the stack's directory.
    let databases: [ServiceName: String]
    /// More flags per service, read at each start (so a restart can change them).
    private var extra: [ServiceName: [String]]
    /// Environment variables per service (OTEL_*, LOG_FORMAT), beside the test's own.
    let environment: [ServiceName: [String: String]]
    let logLevel: String

    init(seed: SeedCatalog, sagaTimeoutMs: Int = 10_000, notificationArguments: [String]? = nil,
         databases: [ServiceName: String] = [:], extraArguments: [ServiceName: [String]] = [:],
         environment: [ServiceName: [String: String]] = [:], logLevel: String = "info") throws {
        self.logLevel = logLevel
        self.notificationArguments = notificationArguments
        self.environment = environment
        self.databases = databases
        extra = extraArguments
        cluster = try DevClusterHarness()
        directory = cluster.directory.appendingPathComponent("stack")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        seedFile = directory.appendingPathComponent("seed.json")
        try JSONEncoder().encode(seed).write(to: seedFile)
        keys = directory.appendingPathComponent("keys")
        tokens = try KeyMaterial.create(in: keys, issuer: "order-saga", audience: "order-saga").issuer
        self.sagaTimeoutMs = sagaTimeoutMs
        for service in ServiceName.allCases {
            ports[service] = try FreePorts.one()
            try start(service)
        }
        for service in ServiceName.allCases { try waitUntilReady(service) }
    }

    deinit { stop() }

    /// The dev cluster as a client configuration, tuned for it.
    var kafka: KafkaConfiguration {
        KafkaConfiguration(bootstrapServers: cluster.bootstrap).merging(KafkaConfiguration.devClusterTuning)
    }

    func url(_ service: ServiceName, _ path: String) -> URL {
        URL(string: "http://127.0.0.1:\(ports[service]!)\(path)")!
    }

    /// A bearer token minted with the stack's issuer key (valid an hour), minted once per
    /// roles and subject.
    func token(_ roles: [Role], subject: String) -> String {
        let key = roles.map(\.rawValue).sorted().joined(separator: ",") + "/" + subject
        if let token = lock.withLock({ minted[key] }) { return token }
        let tokens = tokens
        let token = try! runAsync { try await tokens.token(subject: subject, roles: roles) }
        lock.withLock { minted[key] = token }
        return token
    }

    /// Reads everything: what the tests use to look at state.
    var operatorToken: String { token([.operator], subject: "test-operator") }
    func customerToken(_ customer: String) -> String { token([.customer], subject: customer) }

    /// Flags that hand a tool (loadgen, kafka-tool) the stack's keys.
    var keyringFile: String { keys.appendingPathComponent(KeyMaterial.keyringFile).path }
    var operatorKeyFile: String { keys.appendingPathComponent(KeyMaterial.eventKeyFile(owner: EventKeyOwner.operator)).path }

    // MARK: processes

    func start(_ service: ServiceName) throws {
        var arguments = [
            "--database", databases[service] ?? "sqlite://\(directory.appendingPathComponent("\(service.rawValue).db").path)",
            "--bootstrap-file", cluster.bootstrapFile.path, "--dev-cluster-tuning", "true", "--http-port", "\(ports[service]!)",
            "--seed-file", seedFile.path, "--log-level", logLevel, "--instance-id", service.rawValue,
            "--jwks", keys.appendingPathComponent(KeyMaterial.jwksFile).path,
            "--signing-key-file", keys.appendingPathComponent(KeyMaterial.eventKeyFile(owner: service.rawValue)).path,
            "--keyring-file", keyringFile,
        ]
        if service == .order { arguments += ["--saga-timeout-ms", "\(sagaTimeoutMs)", "--sweep-interval-ms", "200"] }
        if service == .notification {
            arguments += notificationArguments
                ?? ["--channel", "file", "--notification-file", directory.appendingPathComponent("notifications.jsonl").path]
        }
        arguments += lock.withLock { extra[service] ?? [] }
        let run = lock.withLock { () -> Int in starts[service, default: 0] += 1; return starts[service]! }
        let child = try ChildProcess(executable: try Self.binary(service.executable), arguments: arguments,
                                     directory: directory, name: "\(service.rawValue)-\(run)",
                                     environment: environment[service] ?? [:])
        lock.withLock { processes[service] = child }
    }

    /// Flags for the service's next start.
    func setExtraArguments(_ service: ServiceName, _ arguments: [String]) {
        lock.withLock { extra[service] = arguments }
    }

    /// Rewrites the seed catalog the services read at their next start (seeding inserts what is missing).
    func rewriteSeed(_ seed: SeedCatalog) throws {
        try JSONEncoder().encode(seed).write(to: seedFile)
    }

    func kill(_ service: ServiceName) {
        lock.withLock { processes[service] }?.kill()
    }

    func signal(_ service: ServiceName, _ sig: Int32) {
        lock.withLock { processes[service] }?.signal(sig)
    }

    func restart(_ service: ServiceName) throws {
        kill(service)
        try start(service)
        try waitUntilReady(service)
    }

    /// SIGTERM to every service (graceful), then the cluster; returns the services' exit statuses.
    @discardableResult
    func stop() -> [ServiceName: Int32] {
        let running = lock.withLock { let p = processes; processes = [:]; return p }
        running.values.forEach { $0.signal(SIGTERM) }
        var statuses: [ServiceName: Int32] = [:]
        for (service, process) in running { statuses[service] = process.wait(timeout: 20).status }
        cluster.stop()
        return statuses
    }

    func logs(_ service: ServiceName) -> String {
        lock.withLock { processes[service] }?.stderr ?? ""
    }

    func waitUntilReady(_ service: ServiceName, timeout: TimeInterval = 60) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let process = lock.withLock({ processes[service] }), !process.isRunning {
                throw Failure(description: "\(service.executable) exited: \(process.stderr.suffix(3000))")
            }
            if (try? HTTP.get(url(service, "/readyz")))?.status == 200 { return }
            usleep(100_000)
        }
        throw Failure(description: "\(service.executable) not ready after \(timeout) s: \(logs(service).suffix(3000))")
    }

    /// `loadgen audit` over the stack as it is now (every topic, every service's state, read as
    /// the auditor); its output is printed when it fails.
    func audit(timeout: TimeInterval = 240) throws -> ProcessResult {
        let result = try ChildProcess.run(try Self.binary("loadgen").path, [
            "audit", "--bootstrap-file", cluster.bootstrapFile.path, "--dev-cluster-tuning", "true",
            "--order-url", url(.order, "").absoluteString, "--inventory-url", url(.inventory, "").absoluteString,
            "--payment-url", url(.payment, "").absoluteString, "--notification-url", url(.notification, "").absoluteString,
            "--keys", keys.path,
        ], timeout: timeout)
        if result.status != 0 { print(result.stdout.suffix(6000), result.stderr.suffix(3000)) }
        return result
    }

    // MARK: helpers

    static func binary(_ name: String) throws -> URL {
        let candidate = try DevClusterHarness.binary().deletingLastPathComponent().appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: candidate.path) else {
            throw Failure(description: "no \(name) at \(candidate.path): run `swift build` first")
        }
        return candidate
    }


}
