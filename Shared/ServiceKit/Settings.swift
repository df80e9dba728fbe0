import ArgumentParser
import Foundation
import Kafka

/// The four services of the saga.
public enum ServiceName: String, Sendable, CaseIterable, Codable {
    case order, inventory, payment, notification

    public var defaultHTTPPort: Int {
        switch self {
        case .order: 8080
        case .inventory: 8081
        case .payment: 8082
        case .notification: 8083
        }
    }

    /// The executable (SwiftPM product) name.
    public var executable: String { "\(rawValue)-service" }
}

/// One setting a service reads: a flag that falls back to an environment variable, then to a
/// default. Every setting is listed in `SettingsCatalog.all`, which is what the deploy tests
/// hold the compose file against (every variable it sets is read, every required one is set).
public struct SettingDescriptor: Sendable, Hashable {
    public let environment: String
    public let flag: String
    public let defaultValue: String?
    public let services: Set<ServiceName>
    /// A service cannot start without it (no default).
    public let isRequired: Bool
    public let help: String

    /// The flag's value if given, else the environment's, else the default.
    public func resolve(_ flagValue: String?, environment env: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        given(flagValue, environment: env) ?? defaultValue
    }

    /// The flag's value if given, else the environment's; nil when neither says anything.
    public func given(_ flagValue: String?, environment env: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let flagValue { return flagValue }
        if let value = env[environment], !value.isEmpty { return value }
        return nil
    }

    /// Like `resolve`, but a missing value is an error that names both ways to give it.
    public func require(_ flagValue: String?, environment env: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        guard let value = resolve(flagValue, environment: env) else {
            throw ValidationError("missing setting: give --\(flag) or set \(environment) (\(help))")
        }
        return value
    }

    /// Parses the resolved value as an integer; the error names the setting.
    public func integer(_ flagValue: String?, environment env: [String: String] = ProcessInfo.processInfo.environment) throws -> Int? {
        guard let text = resolve(flagValue, environment: env) else { return nil }
        guard let value = Int(text) else {
            throw ValidationError("--\(flag) / \(environment) must be an integer, got '\(text)'")
        }
        return value
    }

    /// Parses the resolved value as a positive number of milliseconds.
    public func duration(_ flagValue: String?, environment env: [String: String] = ProcessInfo.processInfo.environment) throws -> Duration? {
        guard let value = try integer(flagValue, environment: env) else { return nil }
        guard value > 0 else { throw ValidationError("--\(flag) / \(environment) must be a positive number of milliseconds, got \(value)") }
        return .milliseconds(value)
    }

    /// Parses the resolved value as a boolean (true/false/1/0/yes/no).
    public func bool(_ flagValue: String?, environment env: [String: String] = ProcessInfo.processInfo.environment) throws -> Bool? {
        guard let text = resolve(flagValue, environment: env)?.lowercased() else { return nil }
        switch text {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw ValidationError("--\(flag) / \(environment) must be true or false, got '\(text)'")
        }
    }
}

public enum SettingsCatalog {
    static let all4 = Set(ServiceName.allCases)

    public static let database = SettingDescriptor(
        environment: "DATABASE_URL", flag: "database", defaultValue: nil, services: all4, isRequired: false,
        help: "sqlite:///path/file.db or postgres://user:password@host:port/database; default sqlite://./<service>.db")
    // The bootstrap pair is resolved together (`KafkaBootstrap`): either flag beats both variables.
    public static let bootstrap = SettingDescriptor(
        environment: KafkaBootstrap.listVariable, flag: "bootstrap", defaultValue: nil, services: all4, isRequired: false,
        help: "Kafka bootstrap servers host:port,...; this or the bootstrap file is required")
    public static let bootstrapFile = SettingDescriptor(
        environment: KafkaBootstrap.fileVariable, flag: "bootstrap-file", defaultValue: nil, services: all4, isRequired: false,
        help: "file holding the bootstrap servers (the dev cluster writes one)")
    public static let devClusterTuning = SettingDescriptor(
        environment: "KAFKA_DEV_CLUSTER_TUNING", flag: "dev-cluster-tuning", defaultValue: "false", services: all4, isRequired: false,
        help: "true for the embedded dev cluster (librdkafka's mock): short session timeout and fetch wait; false (the default) on real Kafka")
    public static let sessionTimeout = SettingDescriptor(
        environment: "KAFKA_SESSION_TIMEOUT_MS", flag: "session-timeout-ms", defaultValue: "10000", services: all4, isRequired: false,
        help: """
            how long the group waits for a silent consumer before giving its partitions to others; \
            default 10000 (3000 with the dev-cluster tuning); brokers accept 6000 and up by default
            """)
    public static let staticMembership = SettingDescriptor(
        environment: "KAFKA_STATIC_MEMBERSHIP", flag: "static-membership", defaultValue: "false", services: all4, isRequired: false,
        help: """
            true: join the consumer group as static member <service>-<INSTANCE_ID, or the hostname when unset>, \
            so a restarted instance gets its partitions back without a rebalance; the name must be unique per \
            instance and stable across its restarts. Real Kafka only (the dev cluster's mock ignores it)
            """)
    // TLS to the brokers (KafkaTLS): paths to PEM files, and a key password only from a file.
    public static let kafkaTLSCA = SettingDescriptor(
        environment: KafkaTLS.caVariable, flag: KafkaTLS.caFlag, defaultValue: nil, services: all4, isRequired: false,
        help: "PEM file of the CA that signed the brokers' certificates; any KAFKA_TLS_* setting turns TLS on (security.protocol=ssl)")
    public static let kafkaTLSCertificate = SettingDescriptor(
        environment: KafkaTLS.certificateVariable, flag: KafkaTLS.certificateFlag, defaultValue: nil, services: all4, isRequired: false,
        help: "PEM file of this client's certificate, for brokers that require client certificates (with KAFKA_TLS_KEY_FILE)")
    public static let kafkaTLSKey = SettingDescriptor(
        environment: KafkaTLS.keyVariable, flag: KafkaTLS.keyFlag, defaultValue: nil, services: all4, isRequired: false,
        help: "PEM file of this client's private key (with KAFKA_TLS_CERT_FILE)")
    public static let kafkaTLSKeyPassword = SettingDescriptor(
        environment: KafkaTLS.keyPasswordVariable, flag: KafkaTLS.keyPasswordFlag, defaultValue: nil, services: all4, isRequired: false,
        help: "file holding the password of an encrypted private key (never the password itself)")
    public static let httpHost = SettingDescriptor(
        environment: "HTTP_HOST", flag: "http-host", defaultValue: "127.0.0.1", services: all4, isRequired: false,
        help: "HTTP listen address (0.0.0.0 in containers)")
    public static let httpPort = SettingDescriptor(
        environment: "HTTP_PORT", flag: "http-port", defaultValue: nil, services: all4, isRequired: false,
        help: "HTTP listen port; default 8080 order, 8081 inventory, 8082 payment, 8083 notification")
    public static let seedFile = SettingDescriptor(
        environment: "SEED_FILE", flag: "seed-file", defaultValue: nil, services: [.order, .inventory, .payment], isRequired: true,
        help: "seed catalog JSON: prices (order), stock (inventory), accounts (payment)")
    public static let logLevel = SettingDescriptor(
        environment: "LOG_LEVEL", flag: "log-level", defaultValue: "info", services: all4, isRequired: false,
        help: "trace, debug, info, notice, warning, error or critical")
    public static let logFormat = SettingDescriptor(
        environment: "LOG_FORMAT", flag: "log-format", defaultValue: "text", services: all4, isRequired: false,
        help: "text (one line per record, metadata inline) or json (one JSON object per line, trace-id and span-id inside a span)")
    public static let instanceId = SettingDescriptor(
        environment: "INSTANCE_ID", flag: "instance-id", defaultValue: nil, services: all4, isRequired: false,
        help: "this instance's name in logs and the relay lease; default <hostname>-<pid>")
    public static let sagaTimeout = SettingDescriptor(
        environment: "SAGA_TIMEOUT_MS", flag: "saga-timeout-ms", defaultValue: "30000", services: [.order], isRequired: false,
        help: "a PENDING order older than this is cancelled with reason timeout")
    public static let sweepInterval = SettingDescriptor(
        environment: "SWEEP_INTERVAL_MS", flag: "sweep-interval-ms", defaultValue: "500", services: [.order], isRequired: false,
        help: "how often the order sweeper looks for orders past their deadline")
    public static let notificationChannel = SettingDescriptor(
        environment: "NOTIFICATION_CHANNEL", flag: "channel", defaultValue: "log", services: [.notification], isRequired: false,
        help: "log, file or webhook")
    public static let notificationFile = SettingDescriptor(
        environment: "NOTIFICATION_FILE", flag: "notification-file", defaultValue: nil, services: [.notification], isRequired: false,
        help: "JSON-lines file the file channel appends to")
    public static let webhookURL = SettingDescriptor(
        environment: "NOTIFICATION_WEBHOOK_URL", flag: "webhook-url", defaultValue: nil, services: [.notification], isRequired: false,
        help: "https URL the webhook channel POSTs each notification to (never logged: it often holds a token)")
    public static let webhookSecretFile = SettingDescriptor(
        environment: "NOTIFICATION_WEBHOOK_SECRET_FILE", flag: "webhook-secret-file", defaultValue: nil, services: [.notification], isRequired: false,
        help: "file holding the webhook channel's HMAC secret (at least 32 bytes): every request carries Webhook-Timestamp and Webhook-Signature")
    public static let webhookAllowHTTP = SettingDescriptor(
        environment: "NOTIFICATION_WEBHOOK_ALLOW_HTTP", flag: "webhook-allow-http", defaultValue: "false", services: [.notification], isRequired: false,
        help: "true lets the webhook URL be plain http (a receiver on loopback); the default takes https only")

    public static let stallTimeout = SettingDescriptor(
        environment: "STALL_TIMEOUT_MS", flag: "stall-timeout-ms", defaultValue: "180000", services: all4, isRequired: false,
        help: "a batch failing transiently, a lagging partition without progress or an outbox row waiting this long turns /readyz red and logs at error")
    public static let relaySendTimeout = SettingDescriptor(
        environment: "RELAY_SEND_TIMEOUT_MS", flag: "relay-send-timeout-ms", defaultValue: "30000", services: all4, isRequired: false,
        help: "a relay send failing after this is retried; a lease holder that gets no acknowledgement for this long while rows wait gives the lease up")
    public static let offsetAnomaly = SettingDescriptor(
        environment: "OFFSET_ANOMALY", flag: "offset-anomaly", defaultValue: "hold", services: all4, isRequired: false,
        help: "hold or accept: a partition whose log does not continue from the stored offset is held (unready) or read from the log start")
    public static let messagingRetention = SettingDescriptor(
        environment: "MESSAGING_RETENTION_MS", flag: "messaging-retention-ms", defaultValue: "604800000", services: all4, isRequired: false,
        help: "inbox rows and outbox sequence rows of orders idle this long are pruned (default 7 days)")
    public static let pruneInterval = SettingDescriptor(
        environment: "PRUNE_INTERVAL_MS", flag: "prune-interval-ms", defaultValue: "600000", services: all4, isRequired: false,
        help: "how often expired inbox, sequence and idempotency-key rows are pruned")
    public static let idempotencyKeyRetention = SettingDescriptor(
        environment: "IDEMPOTENCY_KEY_RETENTION_MS", flag: "idempotency-key-retention-ms", defaultValue: "86400000", services: [.order], isRequired: false,
        help: "an Idempotency-Key older than this is forgotten (default 24 h): the same key then places a new order")

    public static let jwks = SettingDescriptor(
        environment: "AUTH_JWKS", flag: "jwks", defaultValue: nil, services: all4, isRequired: true,
        help: "JWKS file (re-read when it changes) or https URL with the Ed25519 keys bearer tokens are verified with")
    public static let tokenIssuer = SettingDescriptor(
        environment: "AUTH_ISSUER", flag: "token-issuer", defaultValue: "order-saga", services: all4, isRequired: false,
        help: "the iss a bearer token must carry")
    public static let tokenAudience = SettingDescriptor(
        environment: "AUTH_AUDIENCE", flag: "token-audience", defaultValue: "order-saga", services: all4, isRequired: false,
        help: "the aud a bearer token must include")
    public static let signingKeyFile = SettingDescriptor(
        environment: "EVENT_SIGNING_KEY_FILE", flag: "signing-key-file", defaultValue: nil, services: all4, isRequired: true,
        help: "this service's Ed25519 event-signing key (saga-admin keys init writes events/<service>.key)")
    public static let keyringFile = SettingDescriptor(
        environment: "EVENT_KEYRING_FILE", flag: "keyring-file", defaultValue: nil, services: all4, isRequired: true,
        help: "public keys of every event signer with their owners (keyring.json); re-read when it changes")
    public static let httpMaxConnections = SettingDescriptor(
        environment: "HTTP_MAX_CONNECTIONS", flag: "http-max-connections", defaultValue: "4096", services: all4, isRequired: false,
        help: "open HTTP connections at most; beyond it new ones wait in the listen queue")
    public static let httpIdleTimeout = SettingDescriptor(
        environment: "HTTP_IDLE_TIMEOUT_MS", flag: "http-idle-timeout-ms", defaultValue: "10000", services: all4, isRequired: false,
        help: "a connection without a complete request head for this long (idle between requests, or a head sent slowly) is closed")
    public static let httpRequestTimeout = SettingDescriptor(
        environment: "HTTP_REQUEST_TIMEOUT_MS", flag: "http-request-timeout-ms", defaultValue: "10000", services: all4, isRequired: false,
        help: "a request whose body has not fully arrived this long after its head is closed")
    public static let orderRateLimit = SettingDescriptor(
        environment: "ORDER_RATE_LIMIT", flag: "order-rate-limit", defaultValue: "20", services: [.order], isRequired: false,
        help: "POST /orders per second per caller on average (a burst of twice as many is fine); beyond it 429 with Retry-After")
    public static let streamSubscribers = SettingDescriptor(
        environment: "STREAM_MAX_SUBSCRIBERS", flag: "stream-max-subscribers", defaultValue: "256", services: [.notification], isRequired: false,
        help: "open GET /notifications/stream connections at most; beyond it 503 with Retry-After")

    public static let all: [SettingDescriptor] = [
        database, bootstrap, bootstrapFile, devClusterTuning, sessionTimeout, staticMembership,
        kafkaTLSCA, kafkaTLSCertificate, kafkaTLSKey, kafkaTLSKeyPassword, httpHost, httpPort, seedFile,
        logLevel, logFormat, instanceId,
        sagaTimeout, sweepInterval, notificationChannel, notificationFile, webhookURL, webhookSecretFile, webhookAllowHTTP,
        stallTimeout, relaySendTimeout, offsetAnomaly, messagingRetention, pruneInterval, idempotencyKeyRetention,
        jwks, tokenIssuer, tokenAudience, signingKeyFile, keyringFile,
        httpMaxConnections, httpIdleTimeout, httpRequestTimeout, orderRateLimit, streamSubscribers,
    ]

    public static func settings(of service: ServiceName) -> [SettingDescriptor] {
        all.filter { $0.services.contains(service) }
    }
}
