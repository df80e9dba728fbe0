import Foundation
import Logging
import Messaging
import OTel
import ServiceLifecycle
import Tracing

/// Distributed tracing from the standard OpenTelemetry variables, or nothing.
///
/// Off unless the environment asks for traces: `OTEL_EXPORTER_OTLP_ENDPOINT` or
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` set, or `OTEL_TRACES_EXPORTER=otlp`; `OTEL_SDK_DISABLED=true`
/// or `OTEL_TRACES_EXPORTER=none` win over both. Off, no tracer is bootstrapped and the runtime's
/// spans (`MessageTracing`) are skipped whole. On, swift-otel reads the rest (`OTEL_SERVICE_NAME`,
/// `OTEL_EXPORTER_OTLP_PROTOCOL` — `http/protobuf`, the only one built in —, `OTEL_TRACES_SAMPLER`,
/// `OTEL_BSP_SCHEDULE_DELAY`, …). Only traces: metrics stay on Prometheus and logs on stderr.
public enum TracingBootstrap {
    /// The OpenTelemetry variables a service honours (swift-otel reads them; see the spec's
    /// "Environment Variable Specification"); the deploy tests accept them in the compose file.
    public static let variables: Set<String> = [
        "OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_PROPAGATORS",
        "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_BSP_EXPORT_TIMEOUT",
    ]

    /// Whether `environment` asks for traces.
    public static func isRequested(_ environment: [String: String]) -> Bool {
        func value(_ name: String) -> String? {
            environment[name].map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.flatMap { $0.isEmpty ? nil : $0 }
        }
        if value("OTEL_SDK_DISABLED") == "true" { return false }
        if let exporter = value("OTEL_TRACES_EXPORTER") { return exporter.split(separator: ",").contains("otlp") }
        return value("OTEL_EXPORTER_OTLP_ENDPOINT") != nil || value("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != nil
    }

    /// Bootstraps the OTLP tracer when `environment` asks for it and turns the runtime's spans
    /// on; returns the exporter's background service (run it with the process's others: it
    /// flushes on shutdown), or nil when tracing stays off. Once per process.
    public static func start(serviceName: String, environment: [String: String], logger: Logger) throws -> (any Service)? {
        guard isRequested(environment) else { return nil }
        var configuration = OTel.Configuration.default
        configuration.serviceName = serviceName  // OTEL_SERVICE_NAME overrides it
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.enabled = true
        configuration.diagnosticLogger = .custom(logger)
        let backend = try OTel.makeTracingBackend(configuration: configuration)
        InstrumentationSystem.bootstrap(backend.factory)
        MessageTracing.setEnabled(true)
        logger.notice("tracing on: OTLP export", metadata: [
            "endpoint": "\(environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] ?? environment["OTEL_EXPORTER_OTLP_ENDPOINT"] ?? "default")",
            "service": "\(environment["OTEL_SERVICE_NAME"] ?? serviceName)",
        ])
        return backend.service
    }

    /// Log metadata of the task's current span: `trace-id` and `span-id`, beside the runtime's
    /// `order-id`, `event-id` and `correlation-id`.
    public static var metadataProvider: Logger.MetadataProvider {
        var configuration = OTel.Configuration.LoggingMetadataProviderConfiguration.default
        configuration.traceIDKey = "trace-id"
        configuration.spanIDKey = "span-id"
        configuration.traceFlagsKey = "trace-flags"
        let provider = OTel.makeLoggingMetadataProvider(configuration: configuration)
        return Logger.MetadataProvider {
            var metadata = provider.get()
            metadata["trace-flags"] = nil
            return metadata
        }
    }
}
