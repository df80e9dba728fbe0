import Foundation
import Kafka

public enum SettingsCatalog {
    static let all4 = Set(ServiceName.allCases)
    /// ServiceName.defaultHTTPPort, as the docs say it.
    static let perServicePorts = "per service: " + ServiceName.allCases.map { "`\($0.defaultHTTPPort)` \($0.rawValue)" }.joined(separator: ", ")

    public static let database = SettingDescriptor(
        environment: "DATABASE_URL", flag: "database", default: .derived("`sqlite://./<service>.db`"), services: all4,
        help: "sqlite:///path/file.db or postgres://user:password@host:port/database")
    // The bootstrap pair is resolved together (`KafkaBootstrap`): either flag beats both variables.
    public static let bootstrap = SettingDescriptor(
        environment: KafkaBootstrap.listVariable, flag: "bootstrap", default: .none, services: all4,
        help: "Kafka bootstrap servers host:port,...; this or the bootstrap file is required")
    public static let bootstrapFile = SettingDescriptor(
        environment: KafkaBootstrap.fileVariable, flag: "bootstrap-file", default: .none, services: all4,
        help: "file holding the bootstrap servers (the dev cluster writes one)")
    public static let devClusterTuning = SettingDescriptor(
        environment: "KAFKA_DEV_CLUSTER_TUNING", flag: "dev-cluster-tuning", default: .value("false"), services: all4,
        help: "true for the embedded dev cluster (librdkafka's mock): short session timeout and fetch wait; false on real Kafka")
    public static let sessionTimeout = SettingDescriptor(
        environment: "KAFKA_SESSION_TIMEOUT_MS", flag: "session-timeout-ms", default: .value("10000"), services: all4,
        note: "`\(KafkaConfiguration.devClusterTuning["session.timeout.ms"] ?? "?")` with the dev-cluster tuning",
        help: """
            how long the group waits for a silent consumer before giving its partitions to others; \
            brokers accept 6000 and up by default
            """)
    public static let staticMembership = SettingDescriptor(
        environment: "KAFKA_STATIC_MEMBERSHIP", flag: "static-membership", default: .value("false"), services: all4,
        help: """
            true: join the consumer group as static member <service>-<INSTANCE_ID, or the hostname when unset>, \
            so a restarted instance gets its partitions back without a rebalance; the name must be unique per \
            instance and stable across its restarts. Real Kafka only (the dev cluster's mock ignores it)
            """)
    // TLS to the brokers (KafkaTLS): paths to PEM files, and a key password only from a file.
    public static let kafkaTLSCA = SettingDescriptor(
        environment: KafkaTLS.caVariable, flag: KafkaTLS.caFlag, default: .none, services: all4,
        help: KafkaTLS.caHelp)
    public static let kafkaTLSCertificate = SettingDescriptor(
        environment: KafkaTLS.certificateVariable, flag: KafkaTLS.certificateFlag, default: .none, services: all4,
        help: KafkaTLS.certificateHelp)
    public static let kafkaTLSKey = SettingDescriptor(
        environment: KafkaTLS.keyVariable, flag: KafkaTLS.keyFlag, default: .none, services: all4,
        help: KafkaTLS.keyHelp)
    public static let kafkaTLSKeyPassword = SettingDescriptor(
        environment: KafkaTLS.keyPasswordVariable, flag: KafkaTLS.keyPasswordFlag, default: .none, services: all4,
        help: KafkaTLS.keyPasswordHelp)
    public static let httpHost = SettingDescriptor(
        environment: "HTTP_HOST", flag: "http-host", default: .value("127.0.0.1"), services: all4,
        help: "HTTP listen address (0.0.0.0 in containers)")
    public static let httpPort = SettingDescriptor(
        environment: "HTTP_PORT", flag: "http-port", default: .derived(perServicePorts), services: all4,
        help: "HTTP listen port")
    public static let seedFile = SettingDescriptor(
        environment: "SEED_FILE", flag: "seed-file", default: .required, services: [.order, .inventory, .payment],
        help: "seed catalog JSON: prices (order), stock (inventory), accounts (payment)")
    public static let logLevel = SettingDescriptor(
        environment: "LOG_LEVEL", flag: "log-level", default: .value("info"), services: all4,
        help: "trace, debug, info, notice, warning, error or critical")
    public static let logFormat = SettingDescriptor(
        environment: "LOG_FORMAT", flag: "log-format", default: .value("text"), services: all4,
        help: "text (one line per record, metadata inline) or json (one JSON object per line, trace-id and span-id inside a span)")
    public static let instanceId = SettingDescriptor(
        environment: "INSTANCE_ID", flag: "instance-id", default: .derived("`<hostname>-<pid>`"), services: all4,
        help: "this instance's name in logs and the relay lease")
    public static let sagaTimeout = SettingDescriptor(
        environment: "SAGA_TIMEOUT_MS", flag: "saga-timeout-ms", default: .value("30000"), services: [.order],
        help: "a PENDING order older than this is cancelled with reason timeout")
    public static let sweepInterval = SettingDescriptor(
        environment: "SWEEP_INTERVAL_MS", flag: "sweep-interval-ms", default: .value("500"), services: [.order],
        help: "how often the order sweeper looks for orders past their deadline")
    public static let notificationChannel = SettingDescriptor(
        environment: "NOTIFICATION_CHANNEL", flag: "channel", default: .value("log"), services: [.notification],
        help: "log, file or webhook")
    public static let notificationFile = SettingDescriptor(
        environment: "NOTIFICATION_FILE", flag: "notification-file", default: .none, services: [.notification],
        help: "JSON-lines file the file channel appends to")
    public static let webhookURL = SettingDescriptor(
        environment: "NOTIFICATION_WEBHOOK_URL", flag: "webhook-url", default: .none, services: [.notification],
        help: "https URL the webhook channel POSTs each notification to (never logged: it often holds a token)")
    public static let webhookSecretFile = SettingDescriptor(
        environment: "NOTIFICATION_WEBHOOK_SECRET_FILE", flag: "webhook-secret-file", default: .none, services: [.notification],
        help: "file holding the webhook channel's HMAC secret (at least 32 bytes): every request carries Webhook-Timestamp and Webhook-Signature")
    public static let webhookAllowHTTP = SettingDescriptor(
        environment: "NOTIFICATION_WEBHOOK_ALLOW_HTTP", flag: "webhook-allow-http", default: .value("false"), services: [.notification],
        help: "true lets the webhook URL be plain http (a receiver on loopback); false takes https only")

    public static let stallTimeout = SettingDescriptor(
        environment: "STALL_TIMEOUT_MS", flag: "stall-timeout-ms", default: .value("180000"), services: all4,
        help: "a batch failing transiently, a lagging partition without progress or an outbox row waiting this long turns /readyz red and logs at error")
    public static let relaySendTimeout = SettingDescriptor(
        environment: "RELAY_SEND_TIMEOUT_MS", flag: "relay-send-timeout-ms", default: .value("30000"), services: all4,
        help: "a relay send failing after this is retried; a lease holder that gets no acknowledgement for this long while rows wait gives the lease up")
    public static let offsetAnomaly = SettingDescriptor(
        environment: "OFFSET_ANOMALY", flag: "offset-anomaly", default: .value("hold"), services: all4,
        help: "hold or accept: a partition whose log does not continue from the stored offset is held (unready) or read from the log start")
    public static let messagingRetention = SettingDescriptor(
        environment: "MESSAGING_RETENTION_MS", flag: "messaging-retention-ms", default: .value("604800000"), services: all4,
        help: "inbox rows and outbox sequence rows of orders idle this long are pruned")
    public static let pruneInterval = SettingDescriptor(
        environment: "PRUNE_INTERVAL_MS", flag: "prune-interval-ms", default: .value("600000"), services: all4,
        help: "how often expired inbox, sequence and idempotency-key rows are pruned")
    public static let idempotencyKeyRetention = SettingDescriptor(
        environment: "IDEMPOTENCY_KEY_RETENTION_MS", flag: "idempotency-key-retention-ms", default: .value("86400000"), services: [.order],
        help: "an Idempotency-Key older than this is forgotten: the same key then places a new order")

    public static let jwks = SettingDescriptor(
        environment: "AUTH_JWKS", flag: "jwks", default: .required, services: all4,
        help: "JWKS file (re-read when it changes) or https URL with the Ed25519 keys bearer tokens are verified with")
    public static let tokenIssuer = SettingDescriptor(
        environment: "AUTH_ISSUER", flag: "token-issuer", default: .value("order-saga"), services: all4,
        help: "the iss a bearer token must carry")
    public static let tokenAudience = SettingDescriptor(
        environment: "AUTH_AUDIENCE", flag: "token-audience", default: .value("order-saga"), services: all4,
        help: "the aud a bearer token must include")
    public static let signingKeyFile = SettingDescriptor(
        environment: "EVENT_SIGNING_KEY_FILE", flag: "signing-key-file", default: .required, services: all4,
        help: "this service's Ed25519 event-signing key (saga-admin keys init writes events/<service>.key)")
    public static let keyringFile = SettingDescriptor(
        environment: "EVENT_KEYRING_FILE", flag: "keyring-file", default: .required, services: all4,
        help: "public keys of every event signer with their owners (keyring.json); re-read when it changes")
    public static let httpMaxConnections = SettingDescriptor(
        environment: "HTTP_MAX_CONNECTIONS", flag: "http-max-connections", default: .value("4096"), services: all4,
        help: "open HTTP connections at most; beyond it new ones wait in the listen queue")
    public static let httpIdleTimeout = SettingDescriptor(
        environment: "HTTP_IDLE_TIMEOUT_MS", flag: "http-idle-timeout-ms", default: .value("10000"), services: all4,
        help: "a connection without a complete request head for this long (idle between requests, or a head sent slowly) is closed")
    public static let httpRequestTimeout = SettingDescriptor(
        environment: "HTTP_REQUEST_TIMEOUT_MS", flag: "http-request-timeout-ms", default: .value("10000"), services: all4,
        help: "a request whose body has not fully arrived this long after its head is closed")
    public static let orderRateLimit = SettingDescriptor(
        environment: "ORDER_RATE_LIMIT", flag: "order-rate-limit", default: .value("20"), services: [.order],
        help: "POST /orders per second per caller on average (a burst of twice as many is fine); beyond it 429 with Retry-After")
    public static let streamSubscribers = SettingDescriptor(
        environment: "STREAM_MAX_SUBSCRIBERS", flag: "stream-max-subscribers", default: .value("256"), services: [.notification],
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
