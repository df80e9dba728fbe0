import ArgumentParser
import AsyncHTTPClient
import Credentials
import DeadLetterQueue
import Foundation
import Hummingbird
import Kafka
import KafkaCLI
import Logging
import SagaTimeline
import ServiceKit
import ServiceLifecycle

/// `saga-console`: the operator's console, its own executable. It reads the topics itself
/// (every partition, no consumer group, nothing committed) and calls the services' operator
/// routes with the signed-in operator's token, so it holds no database credential and adds no
/// listener to any service: a service's one port stays the only way into it.
@main
struct ConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "saga-console",
        abstract: "The operator's console: orders and their sagas, dead letters, services, live events.")

    @Option(help: "Bootstrap servers, host:port[,host:port] (or env KAFKA_BOOTSTRAP).") var bootstrap: String?
    @Option(help: "Read the bootstrap servers from this file (the dev cluster writes one).") var bootstrapFile: String?
    @Flag(help: "Apply the short timeouts the embedded dev cluster needs.") var devCluster = false
    @OptionGroup var client: KafkaClientOptions

    @Option(help: "A service instance as NAME=URL (repeatable; every service at least once).")
    var service: [String] = ["order=http://127.0.0.1:8080", "inventory=http://127.0.0.1:8081",
                             "payment=http://127.0.0.1:8082", "notification=http://127.0.0.1:8083"]
    @Option(help: "The JWKS that verifies operators' tokens: a file or an https URL (or env AUTH_JWKS).") var jwks: String?
    @Option(help: "The iss a token must carry.") var tokenIssuer = "order-saga"
    @Option(help: "The aud a token must include.") var tokenAudience = "order-saga"
    @Option(help: "Keyring of the deployment's event signers (or env EVENT_KEYRING_FILE): only signed records are shown as events.")
    var keyringFile: String?
    @Option(help: "An operator's event-signing key, to sign replays (or env EVENT_SIGNING_KEY_FILE); without it replays are refused.")
    var signingKeyFile: String?
    @Option(help: "Alertmanager's base URL, for the alerts page.") var alertmanagerURL: String?
    @Option(help: "Jaeger's UI base URL, for links to an order's trace.") var jaegerURL: String?
    @Option(help: "Listen on this address.") var httpHost = "127.0.0.1"
    @Option(help: "Listen on this port.") var httpPort = 8090
    @Option(help: "trace, debug, info, notice, warning, error, critical.") var logLevel = "info"

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("--log-level \(logLevel): not a log level") }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "saga-console")
        let kafka = try kafkaConfiguration(environment)
        guard let keyring = keyringFile ?? environment["EVENT_KEYRING_FILE"], !keyring.isEmpty else {
            throw ValidationError("give --keyring-file (or EVENT_KEYRING_FILE): the console shows a record as an event only when its writer signed it")
        }
        let authenticator = try EventAuthenticator(keyringFile: keyring)
        guard let jwksLocation = jwks ?? environment["AUTH_JWKS"], !jwksLocation.isEmpty else {
            throw ValidationError("give --jwks (or AUTH_JWKS): operators sign in with tokens it verifies")
        }
        let verifier = TokenVerifier(keys: try await JWKSSource.open(jwksLocation),
                                     configuration: .init(issuer: tokenIssuer, audience: tokenAudience))
        let directory: ServiceDirectory
        do { directory = try ServiceDirectory(service) } catch { throw ValidationError("\(error)") }
        var replayer: DeadLetterReplayer?
        if let keyFile = signingKeyFile ?? environment["EVENT_SIGNING_KEY_FILE"], !keyFile.isEmpty {
            replayer = try DeadLetterReplayer(configuration: kafka, operatorKey: try EventSigner(file: keyFile), logger: logger)
        } else {
            logger.warning("no operator event key (--signing-key-file): dead letters can be read but not replayed")
        }

        var httpConfiguration = HTTPClient.Configuration()
        httpConfiguration.timeout = .init(connect: .seconds(2))
        httpConfiguration.connectionPool = .init(idleTimeout: .seconds(4), concurrentHTTP1ConnectionsPerHostSoftLimit: 8)
        httpConfiguration.httpVersion = .http1Only
        let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: httpConfiguration)
        let index = SagaIndex()
        let loopback = ["127.0.0.1", "::1", "localhost"].contains(httpHost)
        let dependencies = ConsoleDependencies(
            index: index, sessions: SessionStore(secureCookies: !loopback), verifier: verifier, directory: directory,
            client: ServiceClient(http: http, timeout: .seconds(5)),
            records: OrderRecordReader(kafka: kafka, authenticator: authenticator, timeout: .seconds(30), logger: logger),
            replayer: replayer, alertmanagerURL: alertmanagerURL.map(Self.trimmed), jaegerURL: jaegerURL.map(Self.trimmed),
            actions: ActionLog(logger: logger), logger: logger)
        let (router, _) = ConsoleApp.buildRouter(dependencies)
        let follower = TopicFollower(kafka: kafka, authenticator: authenticator, index: index, logger: logger)
        let app = Application(router: router, configuration: .init(address: .hostname(httpHost, port: httpPort), serverName: "saga-console"),
                              services: [follower], logger: logger)
        logger.notice("console listening", metadata: ["http": "\(httpHost):\(httpPort)", "kafka": "\(kafka.properties["bootstrap.servers"] ?? "")"])
        do {
            try await app.runService()
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    static func trimmed(_ url: String) -> String { url.hasSuffix("/") ? String(url.dropLast()) : url }

    func kafkaConfiguration(_ environment: [String: String]) throws -> KafkaConfiguration {
        let servers: String
        do {
            servers = try KafkaBootstrap.servers(list: bootstrap, file: bootstrapFile, environment: environment)
        } catch let failure as KafkaBootstrap.Failure {
            throw ValidationError(failure.description)
        }
        var configuration = KafkaConfiguration(bootstrapServers: servers, ["client.id": "saga-console"])
        if devCluster { configuration = configuration.merging(KafkaConfiguration.devClusterTuning) }
        return try client.apply(to: configuration, environment: environment)
    }
}
