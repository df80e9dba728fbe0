import ArgumentParser
import Foundation
import Kafka
import KafkaCLI
import Logging
import Messaging
import Observability
import SagaAPI

/// The flags every service takes; each falls back to the environment variable of its
/// `SettingsCatalog` entry, then to the default (see Services/API.md).
public struct ServiceOptions: ParsableArguments {
    @Option(help: .init(SettingsCatalog.database.help)) var database: String?
    @Option(help: .init(SettingsCatalog.bootstrap.help)) var bootstrap: String?
    @Option(help: .init(SettingsCatalog.bootstrapFile.help)) var bootstrapFile: String?
    @Option(help: .init(SettingsCatalog.devClusterTuning.help)) var devClusterTuning: String?
    @Option(help: .init(SettingsCatalog.sessionTimeout.help)) var sessionTimeoutMs: String?
    @Option(help: .init(SettingsCatalog.staticMembership.help)) var staticMembership: String?
    @Option(help: .init(SettingsCatalog.httpHost.help)) var httpHost: String?
    @Option(help: .init(SettingsCatalog.httpPort.help)) var httpPort: String?
    @Option(help: .init(SettingsCatalog.seedFile.help)) var seedFile: String?
    @Option(help: .init(SettingsCatalog.logLevel.help)) var logLevel: String?
    @Option(help: .init(SettingsCatalog.logFormat.help)) var logFormat: String?
    @Option(help: .init(SettingsCatalog.instanceId.help)) var instanceId: String?
    @Option(help: .init(SettingsCatalog.stallTimeout.help)) var stallTimeoutMs: String?
    @Option(help: .init(SettingsCatalog.relaySendTimeout.help)) var relaySendTimeoutMs: String?
    @Option(help: .init(SettingsCatalog.offsetAnomaly.help)) var offsetAnomaly: String?
    @Option(help: .init(SettingsCatalog.messagingRetention.help)) var messagingRetentionMs: String?
    @Option(help: .init(SettingsCatalog.pruneInterval.help)) var pruneIntervalMs: String?
    @Option(help: .init(SettingsCatalog.jwks.help)) var jwks: String?
    @Option(help: .init(SettingsCatalog.tokenIssuer.help)) var tokenIssuer: String?
    @Option(help: .init(SettingsCatalog.tokenAudience.help)) var tokenAudience: String?
    @Option(help: .init(SettingsCatalog.signingKeyFile.help)) var signingKeyFile: String?
    @Option(help: .init(SettingsCatalog.keyringFile.help)) var keyringFile: String?
    @Option(help: .init(SettingsCatalog.httpMaxConnections.help)) var httpMaxConnections: String?
    @Option(help: .init(SettingsCatalog.httpIdleTimeout.help)) var httpIdleTimeoutMs: String?
    @Option(help: .init(SettingsCatalog.httpRequestTimeout.help)) var httpRequestTimeoutMs: String?
    /// TLS (the KAFKA_TLS_* settings of SettingsCatalog) and -X properties.
    @OptionGroup var kafkaClient: KafkaClientOptions

    public init() {}

    /// Resolves flags, environment and defaults into settings, or says what to fix.
    public func resolve(for service: ServiceName, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServiceSettings {
        let database = SettingsCatalog.database.resolve(database, environment: environment) ?? "sqlite://./\(service.rawValue).db"
        let kafka = try kafkaConfiguration(for: service, environment: environment)
        let port = try SettingsCatalog.httpPort.integer(httpPort, environment: environment) ?? service.defaultHTTPPort
        guard (0...65535).contains(port) else { throw ValidationError("--http-port / HTTP_PORT must be 0...65535, got \(port)") }
        let levelText = SettingsCatalog.logLevel.resolve(logLevel, environment: environment) ?? "info"
        guard let level = Logger.Level(rawValue: levelText.lowercased()) else {
            throw ValidationError("--log-level / LOG_LEVEL must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), got '\(levelText)'")
        }
        let formatText = SettingsCatalog.logFormat.resolve(logFormat, environment: environment) ?? "text"
        guard let format = LogFormat(rawValue: formatText.lowercased()) else {
            throw ValidationError("--log-format / LOG_FORMAT must be text or json, got '\(formatText)'")
        }
        let seed = SettingsCatalog.seedFile.resolve(seedFile, environment: environment)
        if SettingsCatalog.seedFile.services.contains(service), seed == nil {
            _ = try SettingsCatalog.seedFile.require(nil, environment: environment)
        }
        let instance = SettingsCatalog.instanceId.resolve(instanceId, environment: environment)
            ?? "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
        let policyText = SettingsCatalog.offsetAnomaly.resolve(offsetAnomaly, environment: environment) ?? "hold"
        guard let policy = OffsetAnomalyPolicy(rawValue: policyText.lowercased()) else {
            throw ValidationError("--offset-anomaly / OFFSET_ANOMALY must be hold or accept, got '\(policyText)'")
        }
        let maxConnections = try SettingsCatalog.httpMaxConnections.integer(httpMaxConnections, environment: environment) ?? 4096
        guard (1...1_000_000).contains(maxConnections) else {
            throw ValidationError("--http-max-connections / HTTP_MAX_CONNECTIONS must be 1...1000000, got \(maxConnections)")
        }
        let security = SecuritySettings(
            jwks: try SettingsCatalog.jwks.require(jwks, environment: environment),
            tokenIssuer: SettingsCatalog.tokenIssuer.resolve(tokenIssuer, environment: environment) ?? "order-saga",
            tokenAudience: SettingsCatalog.tokenAudience.resolve(tokenAudience, environment: environment) ?? "order-saga",
            signingKeyFile: try SettingsCatalog.signingKeyFile.require(signingKeyFile, environment: environment),
            keyringFile: try SettingsCatalog.keyringFile.require(keyringFile, environment: environment))
        let limits = HTTPLimits(
            maxConnections: maxConnections,
            idleTimeout: try SettingsCatalog.httpIdleTimeout.duration(httpIdleTimeoutMs, environment: environment) ?? .seconds(10),
            requestTimeout: try SettingsCatalog.httpRequestTimeout.duration(httpRequestTimeoutMs, environment: environment) ?? .seconds(10))
        return ServiceSettings(
            service: service, databaseURL: database, kafka: kafka,
            httpHost: SettingsCatalog.httpHost.resolve(httpHost, environment: environment) ?? "127.0.0.1",
            httpPort: port, seedFile: seed, logLevel: level, logFormat: format, instanceId: instance,
            stallBound: try SettingsCatalog.stallTimeout.duration(stallTimeoutMs, environment: environment) ?? .seconds(180),
            relaySendTimeout: try SettingsCatalog.relaySendTimeout.duration(relaySendTimeoutMs, environment: environment) ?? .seconds(30),
            offsetAnomalyPolicy: policy,
            messagingRetention: try SettingsCatalog.messagingRetention.duration(messagingRetentionMs, environment: environment) ?? .seconds(604_800),
            pruneInterval: try SettingsCatalog.pruneInterval.duration(pruneIntervalMs, environment: environment) ?? .seconds(600),
            security: security, httpLimits: limits)
    }
}

extension ServiceOptions {
    /// librdkafka properties: bootstrap, the dev-cluster tuning, the group session and static
    /// membership, TLS, then `-X` properties, which win over everything (but may carry no secret).
    func kafkaConfiguration(for service: ServiceName, environment: [String: String]) throws -> KafkaConfiguration {
        let servers: String
        do {
            servers = try KafkaBootstrap.servers(list: bootstrap, file: bootstrapFile, environment: environment)
        } catch let failure as KafkaBootstrap.Failure {
            throw ValidationError(failure.description)
        }
        var kafka = KafkaConfiguration(bootstrapServers: servers)
        let tuning = try SettingsCatalog.devClusterTuning.bool(devClusterTuning, environment: environment) ?? false
        if tuning { kafka = kafka.merging(KafkaConfiguration.devClusterTuning) }

        // A session timeout that is given wins over the tuning's 3 s; without one, real Kafka
        // gets 10 s instead of librdkafka's 45 s, so that a consumer that died without leaving
        // (SIGKILL, a lost host) frees its partitions well inside the saga deadline (30 s).
        let setting = SettingsCatalog.sessionTimeout
        if setting.given(sessionTimeoutMs, environment: environment) != nil || !tuning {
            let ms = try setting.integer(sessionTimeoutMs, environment: environment) ?? 10_000
            guard (1_000...3_600_000).contains(ms) else {
                throw ValidationError("--\(setting.flag) / \(setting.environment) must be 1000...3600000 (milliseconds), got \(ms)")
            }
            kafka["session.timeout.ms"] = "\(ms)"
            // Kafka's rule: at most a third of the session, so two lost heartbeats do not end it.
            kafka["heartbeat.interval.ms"] = "\(min(3_000, ms / 3))"
        }

        if try SettingsCatalog.staticMembership.bool(staticMembership, environment: environment) ?? false {
            let name = SettingsCatalog.instanceId.given(instanceId, environment: environment) ?? Self.hostName()
            kafka["group.instance.id"] = try Self.groupInstanceID(service: service, instance: name)
        }

        return try kafkaClient.apply(to: kafka, environment: environment)
    }

    /// `<service>-<instance>`, in the characters and length Kafka accepts for a group instance id.
    static func groupInstanceID(service: ServiceName, instance: String) throws -> String {
        let id = "\(service.rawValue)-\(instance)"
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard !instance.isEmpty, id.count <= 249, id.allSatisfy(allowed.contains) else {
            throw ValidationError("""
                static membership names this instance '\(id)', which Kafka refuses: give --instance-id / INSTANCE_ID \
                of letters, digits, '.', '_' and '-' (at most \(249 - service.rawValue.count - 1) characters)
                """)
        }
        return id
    }

    /// The kernel's host name: in a container, stable across restarts of that container and
    /// unique among its replicas (Foundation's `hostName` may answer with a resolved alias).
    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return ProcessInfo.processInfo.hostName }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Everything a service process needs to start, resolved.
public struct ServiceSettings: Sendable {
    public var service: ServiceName
    public var databaseURL: String
    public var kafka: KafkaConfiguration
    public var httpHost: String
    public var httpPort: Int
    public var seedFile: String?
    public var logLevel: Logger.Level
    public var logFormat: LogFormat = .text
    public var instanceId: String
    public var stallBound: Duration = .seconds(180)
    public var relaySendTimeout: Duration = .seconds(30)
    public var offsetAnomalyPolicy: OffsetAnomalyPolicy = .hold
    public var messagingRetention: Duration = .seconds(604_800)
    public var pruneInterval: Duration = .seconds(600)
    public var security: SecuritySettings
    public var httpLimits = HTTPLimits()

    public var consumerGroup: String { service.rawValue }

    public init(service: ServiceName, databaseURL: String, kafka: KafkaConfiguration, httpHost: String, httpPort: Int,
                seedFile: String?, logLevel: Logger.Level, logFormat: LogFormat = .text, instanceId: String,
                stallBound: Duration = .seconds(180), relaySendTimeout: Duration = .seconds(30),
                offsetAnomalyPolicy: OffsetAnomalyPolicy = .hold, messagingRetention: Duration = .seconds(604_800),
                pruneInterval: Duration = .seconds(600), security: SecuritySettings, httpLimits: HTTPLimits = HTTPLimits()) {
        self.service = service
        self.databaseURL = databaseURL
        self.kafka = kafka
        self.httpHost = httpHost
        self.httpPort = httpPort
        self.seedFile = seedFile
        self.logLevel = logLevel
        self.logFormat = logFormat
        self.instanceId = instanceId
        self.stallBound = stallBound
        self.relaySendTimeout = relaySendTimeout
        self.offsetAnomalyPolicy = offsetAnomalyPolicy
        self.messagingRetention = messagingRetention
        self.pruneInterval = pruneInterval
        self.security = security
        self.httpLimits = httpLimits
    }

    public func loadSeed() throws -> SeedCatalog {
        guard let seedFile else { throw ValidationError("this service needs a seed catalog: give --seed-file or set SEED_FILE") }
        return try SeedCatalog.load(path: seedFile)
    }
}

/// Where a service finds its keys: the JWKS its callers' tokens are checked with, its own
/// event-signing key, and the keyring of every signer.
public struct SecuritySettings: Sendable {
    public var jwks: String
    public var tokenIssuer: String
    public var tokenAudience: String
    public var signingKeyFile: String
    public var keyringFile: String

    public init(jwks: String, tokenIssuer: String = "order-saga", tokenAudience: String = "order-saga",
                signingKeyFile: String, keyringFile: String) {
        self.jwks = jwks
        self.tokenIssuer = tokenIssuer
        self.tokenAudience = tokenAudience
        self.signingKeyFile = signingKeyFile
        self.keyringFile = keyringFile
    }
}

/// What a stranger meets at the HTTP edge besides authentication.
public struct HTTPLimits: Sendable {
    public var maxConnections = 4096
    public var idleTimeout: Duration = .seconds(10)
    public var requestTimeout: Duration = .seconds(10)

    public init(maxConnections: Int = 4096, idleTimeout: Duration = .seconds(10), requestTimeout: Duration = .seconds(10)) {
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
    }
}
