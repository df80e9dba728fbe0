import Credentials
import Foundation
import Hummingbird
import HummingbirdCore
import NIOCore
import Kafka
import Logging
import Messaging
import Metrics
import Observability
import Persistence
import Prometheus
import SagaAPI
import ServiceLifecycle

/// Starts a saga service and runs it until SIGTERM or SIGINT:
///
/// 1. logging and the Prometheus registry; 2. the database, migrated; 3. the service (built
/// by `make`, which seeds its tables); 4. the outbox relay, the consumer runtime, the service's
/// background work and the HTTP edge, as one service group.
///
/// Shutdown runs in reverse: the HTTP server stops accepting, background work stops, the
/// consumer finishes and commits its batch and leaves the group, the relay publishes what it
/// can within its grace period and closes the producer; then the database is closed.
public enum ServiceRunner {
    public static func run<S: SagaService>(
        _ type: S.Type, settings: ServiceSettings,
        make: @Sendable (ServiceContext) async throws -> S
    ) async throws {
        let environment = ProcessInfo.processInfo.environment
        let registry = bootstrapObservability(level: settings.logLevel, format: settings.logFormat,
                                              tracing: TracingBootstrap.isRequested(environment))
        var logger = Logger(label: S.name.executable)
        logger[metadataKey: "instance"] = "\(settings.instanceId)"
        signal(SIGPIPE, SIG_IGN)
        // Whatever the service creates (its SQLite files, the notification file) is its alone.
        umask(0o077)
        raiseOpenFileLimit(logger: logger)
        let tracing = try TracingBootstrap.start(serviceName: S.name.executable, environment: environment,
                                                 logger: named(logger, "tracing"))
        let built = try await build(type, settings: settings, registry: registry, tracing: tracing != nil, logger: logger, make: make)
        let app = Application(
            router: built.router,
            server: .http1(configuration: .init(
                additionalChannelHandlers: [RequestReadDeadline(timeout: TimeAmount(settings.httpLimits.requestTimeout))],
                idleTimeout: TimeAmount(settings.httpLimits.idleTimeout))),
            // A deep listen queue: a burst of connections (a client's pool opening, a flood) waits
            // there instead of having its SYNs dropped and retried a second later.
            configuration: .init(address: .hostname(settings.httpHost, port: settings.httpPort), serverName: S.name.executable,
                                 backlog: min(4096, settings.httpLimits.maxConnections),
                                 availableConnectionsDelegate: MaximumAvailableConnections(settings.httpLimits.maxConnections)),
            services: built.services + (tracing.map { [$0] } ?? []),
            logger: named(logger, "http"))
        logger.notice("starting", metadata: [
            "http": "\(settings.httpHost):\(settings.httpPort)", "group": "\(settings.consumerGroup)",
            "topics": "\(S.consumedTopics.joined(separator: ","))", "database": "\(redacted(settings.databaseURL))",
            "signing-key": "\(built.signer.keyId)",
        ])
        do {
            try await app.runService()
        } catch {
            logger.critical("stopped on error", metadata: ["error": "\(error)"])
            await built.database.close()
            throw error
        }
        let stats = built.runtime.statistics
        await built.database.close()
        logger.notice("stopped", metadata: [
            "handled": "\(stats.handled)", "skipped-offset": "\(stats.skippedOffset)",
            "skipped-inbox": "\(stats.skippedInbox)", "dead-lettered": "\(stats.deadLettered)",
            "unauthenticated": "\(stats.unauthenticated)",
        ])
    }

    /// A service put together and not started: its database (migrated), relay, consumer runtime,
    /// router and background services. `run` starts it; tests call its router in process.
    public struct Built<S: SagaService> {
        public let service: S
        public let database: any SQLDatabase
        public let relay: OutboxRelay
        public let runtime: ConsumerRuntime
        public let signer: EventSigner
        public let routes: EdgeRoutes
        public let router: Router<EdgeContext>
        public let services: [any Service]
    }

    /// Opens the database, loads the keys (a key that is not this service's stops it here),
    /// makes the service and registers every route with its policy.
    public static func build<S: SagaService>(
        _ type: S.Type, settings: ServiceSettings, registry: PrometheusCollectorRegistry, tracing: Bool = false,
        logger: Logger, make: @Sendable (ServiceContext) async throws -> S
    ) async throws -> Built<S> {
        let signer = try EventSigner(file: settings.security.signingKeyFile)
        guard signer.owner == S.name.rawValue else {
            throw KeyFileError.invalid("""
                \(settings.security.signingKeyFile) holds \(signer.owner)'s signing key '\(signer.keyId)'; \
                \(S.name.rawValue) signs with its own (events/\(S.name.rawValue).key)
                """)
        }
        let authenticator = try EventAuthenticator(keyringFile: settings.security.keyringFile)
        let jwks = try await JWKSSource.open(settings.security.jwks)
        let verifier = TokenVerifier(keys: jwks, configuration: .init(issuer: settings.security.tokenIssuer,
                                                                      audience: settings.security.tokenAudience))

        let database = try await openDatabase(url: settings.databaseURL, logger: logger)
        try await StartupRetry.run("migrating", logger: logger) {
            try await database.migrate(MessagingSchema.migrations + S.migrations)
        }
        let relay = OutboxRelay(
            database: database,
            configuration: RelayConfiguration(kafka: settings.kafka, sendTimeout: settings.relaySendTimeout,
                                              unreachableBound: settings.relaySendTimeout, stallBound: settings.stallBound,
                                              signer: signer),
            logger: named(logger, "relay"))
        let context = ServiceContext(settings: settings, database: database, relay: relay, logger: logger)
        let service = try await StartupRetry.run("seeding", logger: logger) { try await make(context) }

        let runtime = ConsumerRuntime(
            configuration: ConsumerConfiguration(
                groupID: settings.consumerGroup, topics: S.consumedTopics, kafka: settings.kafka,
                handledEventTypes: S.handledEventTypes, inboxRetention: settings.messagingRetention,
                inboxPruneInterval: settings.pruneInterval, outputTopics: S.emittedTopics, stallBound: settings.stallBound,
                offsetAnomalyPolicy: settings.offsetAnomalyPolicy, sequenceRetention: settings.messagingRetention,
                authenticator: authenticator),
            database: database, relay: relay,
            hooks: ConsumerHooks(afterDatabaseCommit: { _ in service.consumedBatchCommitted() }),
            logger: named(logger, "consumer"),
            prelude: { events, unit in try service.prepareBatch(events, unit) },
            handler: { event, unit in try service.handle(event, unit) })

        let router = Router(context: EdgeContext.self)
        router.middlewares.add(MetricsMiddleware())
        if tracing { router.middlewares.add(HTTPTracingMiddleware()) }
        router.middlewares.add(ProblemMiddleware.service())
        router.middlewares.add(BearerAuthenticator(verifier: verifier))
        let routes = EdgeRoutes(router: router)
        Probes(database: database, runtime: runtime, relay: relay, instance: settings.instanceId).add(to: routes)
        OperatorRoutes(database: database, runtime: runtime, relay: relay, instance: settings.instanceId,
                       logger: named(logger, "operator")).add(to: routes)
        let processMetrics = ProcessMetrics()
        let scrape = ScrapeCache(registry: registry) {
            await service.refreshMetrics()
            processMetrics.refresh()
            // What /readyz decides from the consumer and the relay (the alert rules' ServiceNotReady).
            let ready = runtime.report().problems.isEmpty && relay.problems.isEmpty
            Metrics.Gauge(label: "service_ready").record(ready ? 1 : 0)
        }
        routes.get("/metrics", .requires(.monitor, .operator, .auditor)) { _, _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: await scrape.render()))
        }
        service.addRoutes(to: routes)

        let services: [any Service] = [
            RelayService(relay: relay), ConsumerService(runtime: runtime),
            TableSizeService(database: database, logger: named(logger, "table-sizes"), interval: min(.seconds(30), settings.pruneInterval)),
        ] + service.backgroundServices()
        return Built(service: service, database: database, relay: relay, runtime: runtime, signer: signer,
                     routes: routes, router: router, services: services)
    }

    /// Up to the hard limit: every connection is a descriptor, and the connection cap is meant
    /// to be what stops new ones, not the soft limit of the shell that started the service.
    static func raiseOpenFileLimit(logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) != 0 {
            logger.warning("cannot raise the open-file limit to \(limit.rlim_max)")
        }
    }

    static func prometheusName(_ name: String) -> String {
        name.contains(".") ? name.replacingOccurrences(of: ".", with: "_") : name
    }

    static func named(_ logger: Logger, _ component: String) -> Logger {
        var logger = logger
        logger[metadataKey: "component"] = "\(component)"
        return logger
    }

    /// The password of a database URL stays out of the logs.
    static func redacted(_ url: String) -> String {
        guard let at = url.firstIndex(of: "@"), let scheme = url.range(of: "://"),
              let colon = url[scheme.upperBound..<at].firstIndex(of: ":") else { return url }
        return url[..<url.index(after: colon)] + "***" + url[at...]
    }

    private static let bootstrapLock = NSLock()
    nonisolated(unsafe) private static var bootstrapped: PrometheusCollectorRegistry?

    /// Logging (stderr, text or JSON lines, with metadata; trace-id and span-id of the task's span
    /// while tracing) and metrics (Prometheus) can be bootstrapped once per process.
    static func bootstrapObservability(level: Logger.Level, format: LogFormat = .catalogDefault, tracing: Bool = false) -> PrometheusCollectorRegistry {
        bootstrapLock.withLock {
            if let bootstrapped { return bootstrapped }
            let provider = tracing ? TracingBootstrap.metadataProvider : nil
            LoggingSystem.bootstrap({ label, provider in
                switch format {
                case .text:
                    var handler = StreamLogHandler.standardError(label: label, metadataProvider: provider)
                    handler.logLevel = level
                    return handler
                case .json:
                    var handler = JSONLogHandler(label: label, metadataProvider: provider)
                    handler.logLevel = level
                    return handler
                }
            }, metadataProvider: provider)
            let made = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: made)
            // Hummingbird's HTTP metrics are named the OpenTelemetry way (`http.server.request.duration`,
            // label `http.route`); Prometheus names take underscores.
            factory.nameAndLabelSanitizer = { name, labels in
                (Self.prometheusName(name), labels.map { (Self.prometheusName($0.0), $0.1) })
            }
            factory.defaultDurationHistogramBuckets = [
                .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
                .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
            ]
            MetricsSystem.bootstrap(factory)
            bootstrapped = made
            return made
        }
    }
}
