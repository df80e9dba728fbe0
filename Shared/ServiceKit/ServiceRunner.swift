import Foundation
import Hummingbird
import Kafka
import Logging
import Messaging
import Metrics
import Observability
import Persistence
import Prometheus
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
        let tracing = try TracingBootstrap.start(serviceName: S.name.executable, environment: environment,
                                                 logger: named(logger, "tracing"))
        let processMetrics = ProcessMetrics()

        let database = try await openDatabase(url: settings.databaseURL, logger: logger)
        try await StartupRetry.run("migrating", logger: logger) {
            try await database.migrate(MessagingSchema.migrations + S.migrations)
        }
        let relay = OutboxRelay(
            database: database,
            configuration: RelayConfiguration(kafka: settings.kafka, sendTimeout: settings.relaySendTimeout,
                                              unreachableBound: settings.relaySendTimeout, stallBound: settings.stallBound),
            logger: named(logger, "relay"))
        let context = ServiceContext(settings: settings, database: database, relay: relay, logger: logger)
        let service = try await StartupRetry.run("seeding", logger: logger) { try await make(context) }

        let runtime = ConsumerRuntime(
            configuration: ConsumerConfiguration(
                groupID: settings.consumerGroup, topics: S.consumedTopics, kafka: settings.kafka,
                handledEventTypes: S.handledEventTypes, inboxRetention: settings.messagingRetention,
                inboxPruneInterval: settings.pruneInterval, outputTopics: S.emittedTopics, stallBound: settings.stallBound,
                offsetAnomalyPolicy: settings.offsetAnomalyPolicy, sequenceRetention: settings.messagingRetention),
            database: database, relay: relay, logger: named(logger, "consumer"),
            prelude: { events, unit in try service.lockSharedRows(for: events, unit) },
            handler: { event, unit in try service.handle(event, unit) })

        let router = Router()
        router.middlewares.add(MetricsMiddleware())
        if tracing != nil { router.middlewares.add(HTTPTracingMiddleware()) }
        router.middlewares.add(ProblemMiddleware())
        Probes(database: database, runtime: runtime, relay: relay, instance: settings.instanceId).add(to: router)
        router.get("/metrics") { _, _ in
            await service.refreshMetrics()
            processMetrics.refresh()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        service.addRoutes(to: router)

        let app = Application(
            router: router,
            configuration: .init(address: .hostname(settings.httpHost, port: settings.httpPort), serverName: S.name.executable),
            services: [RelayService(relay: relay), ConsumerService(runtime: runtime),
                       TableSizeService(database: database, logger: named(logger, "table-sizes"),
                                        interval: min(.seconds(30), settings.pruneInterval))] + service.backgroundServices()
                + (tracing.map { [$0] } ?? []),
            logger: named(logger, "http"))
        logger.notice("starting", metadata: [
            "http": "\(settings.httpHost):\(settings.httpPort)", "group": "\(settings.consumerGroup)",
            "topics": "\(S.consumedTopics.joined(separator: ","))", "database": "\(redacted(settings.databaseURL))",
        ])
        do {
            try await app.runService()
        } catch {
            logger.critical("stopped on error", metadata: ["error": "\(error)"])
            await database.close()
            throw error
        }
        let stats = runtime.statistics
        await database.close()
        logger.notice("stopped", metadata: [
            "handled": "\(stats.handled)", "skipped-offset": "\(stats.skippedOffset)",
            "skipped-inbox": "\(stats.skippedInbox)", "dead-lettered": "\(stats.deadLettered)",
        ])
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
    static func bootstrapObservability(level: Logger.Level, format: LogFormat = .text, tracing: Bool = false) -> PrometheusCollectorRegistry {
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
