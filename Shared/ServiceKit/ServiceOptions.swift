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
    @Option(name: SettingsCatalog.database.argumentName, help: SettingsCatalog.database.argumentHelp) var database: String?
    @Option(name: SettingsCatalog.bootstrap.argumentName, help: SettingsCatalog.bootstrap.argumentHelp) var bootstrap: String?
    @Option(name: SettingsCatalog.bootstrapFile.argumentName, help: SettingsCatalog.bootstrapFile.argumentHelp) var bootstrapFile: String?
    @Option(name: SettingsCatalog.devClusterTuning.argumentName, help: SettingsCatalog.devClusterTuning.argumentHelp) var devClusterTuning: String?
    @Option(name: SettingsCatalog.sessionTimeout.argumentName, help: SettingsCatalog.sessionTimeout.argumentHelp) var sessionTimeoutMs: String?
    @Option(name: SettingsCatalog.staticMembership.argumentName, help: SettingsCatalog.staticMembership.argumentHelp) var staticMembership: String?
    @Option(name: SettingsCatalog.httpHost.argumentName, help: SettingsCatalog.httpHost.argumentHelp) var httpHost: String?
    @Option(name: SettingsCatalog.httpPort.argumentName, help: SettingsCatalog.httpPort.argumentHelp) var httpPort: String?
    @Option(name: SettingsCatalog.seedFile.argumentName, help: SettingsCatalog.seedFile.argumentHelp) var seedFile: String?
    @Option(name: SettingsCatalog.logLevel.argumentName, help: SettingsCatalog.logLevel.argumentHelp) var logLevel: String?
    @Option(name: SettingsCatalog.logFormat.argumentName, help: SettingsCatalog.logFormat.argumentHelp) var logFormat: String?
    @Option(name: SettingsCatalog.instanceId.argumentName, help: SettingsCatalog.instanceId.argumentHelp) var instanceId: String?
    @Option(name: SettingsCatalog.stallTimeout.argumentName, help: SettingsCatalog.stallTimeout.argumentHelp) var stallTimeoutMs: String?
    @Option(name: SettingsCatalog.relaySendTimeout.argumentName, help: SettingsCatalog.relaySendTimeout.argumentHelp) var relaySendTimeoutMs: String?
    @Option(name: SettingsCatalog.offsetAnomaly.argumentName, help: SettingsCatalog.offsetAnomaly.argumentHelp) var offsetAnomaly: String?
    @Option(name: SettingsCatalog.messagingRetention.argumentName, help: SettingsCatalog.messagingRetention.argumentHelp) var messagingRetentionMs: String?
    @Option(name: SettingsCatalog.pruneInterval.argumentName, help: SettingsCatalog.pruneInterval.argumentHelp) var pruneIntervalMs: String?
    @Option(name: SettingsCatalog.jwks.argumentName, help: SettingsCatalog.jwks.argumentHelp) var jwks: String?
    @Option(name: SettingsCatalog.tokenIssuer.argumentName, help: SettingsCatalog.tokenIssuer.argumentHelp) var tokenIssuer: String?
    @Option(name: SettingsCatalog.tokenAudience.argumentName, help: SettingsCatalog.tokenAudience.argumentHelp) var tokenAudience: String?
    @Option(name: SettingsCatalog.signingKeyFile.argumentName, help: SettingsCatalog.signingKeyFile.argumentHelp) var signingKeyFile: String?
    @Option(name: SettingsCatalog.keyringFile.argumentName, help: SettingsCatalog.keyringFile.argumentHelp) var keyringFile: String?
    @Option(name: SettingsCatalog.httpMaxConnections.argumentName, help: SettingsCatalog.httpMaxConnections.argumentHelp) var httpMaxConnections: String?
    @Option(name: SettingsCatalog.httpIdleTimeout.argumentName, help: SettingsCatalog.httpIdleTimeout.argumentHelp) var httpIdleTimeoutMs: String?
    @Option(name: SettingsCatalog.httpRequestTimeout.argumentName, help: SettingsCatalog.httpRequestTimeout.argumentHelp) var httpRequestTimeoutMs: String?
    /// TLS (the KAFKA_TLS_* settings of SettingsCatalog) and -X properties.
    @OptionGroup var kafkaClient: KafkaClientOptions

    public init() {}

    /// Resolves flags, environment and defaults into settings, or says what to fix.
    public func resolve(for service: ServiceName, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServiceSettings {
        let database = SettingsCatalog.database.resolve(database, environment: environment)
            ?? SettingsCatalog.database.derivedDefault(["service": service.rawValue])
        let kafka = try kafkaConfiguration(for: service, environment: environment)
        let port = try SettingsCatalog.httpPort.integer(httpPort, environment: environment) ?? service.defaultHTTPPort
        guard (0...65535).contains(port) else { throw ValidationError("--http-port / HTTP_PORT must be 0...65535, got \(port)") }
        let levelText = SettingsCatalog.logLevel.value(logLevel, environment: environment)
        guard let level = Logger.Level(rawValue: levelText.lowercased()) else {
            throw ValidationError("--log-level / LOG_LEVEL must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), got '\(levelText)'")
        }
        let formatText = SettingsCatalog.logFormat.value(logFormat, environment: environment)
        guard let format = LogFormat(rawValue: formatText.lowercased()) else {
            throw ValidationError("--log-format / LOG_FORMAT must be text or json, got '\(formatText)'")
        }
        let seed = SettingsCatalog.seedFile.resolve(seedFile, environment: environment)
        if SettingsCatalog.seedFile.services.contains(service), seed == nil {
            _ = try SettingsCatalog.seedFile.require(nil, environment: environment)
        }
        let instance = SettingsCatalog.instanceId.resolve(instanceId, environment: environment)
            ?? SettingsCatalog.instanceId.derivedDefault(["hostname": ProcessInfo.processInfo.hostName,
                                                          "pid": "\(ProcessInfo.processInfo.processIdentifier)"])
        let policyText = SettingsCatalog.offsetAnomaly.value(offsetAnomaly, environment: environment)
        guard let policy = OffsetAnomalyPolicy(rawValue: policyText.lowercased()) else {
            throw ValidationError("--offset-anomaly / OFFSET_ANOMALY must be hold or accept, got '\(policyText)'")
        }
        let maxConnections = try SettingsCatalog.httpMaxConnections.integerValue(httpMaxConnections, environment: environment)
        guard (1...1_000_000).contains(maxConnections) else {
            throw ValidationError("--http-max-connections / HTTP_MAX_CONNECTIONS must be 1...1000000, got \(maxConnections)")
        }
        let security = SecuritySettings(
            jwks: try SettingsCatalog.jwks.require(jwks, environment: environment),
            tokenIssuer: SettingsCatalog.tokenIssuer.value(tokenIssuer, environment: environment),
            tokenAudience: SettingsCatalog.tokenAudience.value(tokenAudience, environment: environment),
            signingKeyFile: try SettingsCatalog.signingKeyFile.require(signingKeyFile, environment: environment),
            keyringFile: try SettingsCatalog.keyringFile.require(keyringFile, environment: environment))
        let limits = HTTPLimits(
            maxConnections: maxConnections,
            idleTimeout: try SettingsCatalog.httpIdleTimeout.durationValue(httpIdleTimeoutMs, environment: environment),
            requestTimeout: try SettingsCatalog.httpRequestTimeout.durationValue(httpRequestTimeoutMs, environment: environment))
        return ServiceSettings(
            service: service, databaseURL: database, kafka: kafka,
            httpHost: SettingsCatalog.httpHost.value(httpHost, environment: environment),
            httpPort: port, seedFile: seed, logLevel: level, logFormat: format, instanceId: instance,
            stallBound: try SettingsCatalog.stallTimeout.durationValue(stallTimeoutMs, environment: environment),
            relaySendTimeout: try SettingsCatalog.relaySendTimeout.durationValue(relaySendTimeoutMs, environment: environment),
            offsetAnomalyPolicy: policy,
            messagingRetention: try SettingsCatalog.messagingRetention.durationValue(messagingRetentionMs, environment: environment),
            pruneInterval: try SettingsCatalog.pruneInterval.durationValue(pruneIntervalMs, environment: environment),
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
        let tuning = try SettingsCatalog.devClusterTuning.boolValue(devClusterTuning, environment: environment)
        if tuning { kafka = kafka.merging(KafkaConfiguration.devClusterTuning) }

        // A session timeout that is given wins over the tuning's; without one, real Kafka gets the
        // declared default instead of librdkafka's 45 s, so that a consumer that died without
        // leaving (SIGKILL, a lost host) frees its partitions well inside the saga deadline.
        let setting = SettingsCatalog.sessionTimeout
        if setting.given(sessionTimeoutMs, environment: environment) != nil || !tuning {
            let ms = try setting.integerValue(sessionTimeoutMs, environment: environment)
            guard (1_000...3_600_000).contains(ms) else {
                throw ValidationError("--\(setting.flag) / \(setting.environment) must be 1000...3600000 (milliseconds), got \(ms)")
            }
            kafka["session.timeout.ms"] = "\(ms)"
            // Kafka's rule: at most a third of the session, so two lost heartbeats do not end it.
            kafka["heartbeat.interval.ms"] = "\(min(3_000, ms / 3))"
        }

        if try SettingsCatalog.staticMembership.boolValue(staticMembership, environment: environment) {
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
    public var logFormat: LogFormat
    public var instanceId: String
    public var stallBound: Duration
    public var relaySendTimeout: Duration
    public var offsetAnomalyPolicy: OffsetAnomalyPolicy
    public var messagingRetention: Duration
    public var pruneInterval: Duration
    public var security: SecuritySettings
    public var httpLimits: HTTPLimits

    public var consumerGroup: String { service.rawValue }

    public init(service: ServiceName, databaseURL: String, kafka: KafkaConfiguration, httpHost: String, httpPort: Int,
                seedFile: String?, logLevel: Logger.Level, logFormat: LogFormat = .catalogDefault, instanceId: String,
                stallBound: Duration = SettingsCatalog.stallTimeout.defaultDuration,
                relaySendTimeout: Duration = SettingsCatalog.relaySendTimeout.defaultDuration,
                offsetAnomalyPolicy: OffsetAnomalyPolicy = .catalogDefault,
                messagingRetention: Duration = SettingsCatalog.messagingRetention.defaultDuration,
                pruneInterval: Duration = SettingsCatalog.pruneInterval.defaultDuration,
                security: SecuritySettings, httpLimits: HTTPLimits = HTTPLimits()) {
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

    public init(jwks: String, tokenIssuer: String = SettingsCatalog.tokenIssuer.defaultText,
                tokenAudience: String = SettingsCatalog.tokenAudience.defaultText,
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
    public var maxConnections: Int
    public var idleTimeout: Duration
    public var requestTimeout: Duration

    public init(maxConnections: Int = SettingsCatalog.httpMaxConnections.defaultInteger,
                idleTimeout: Duration = SettingsCatalog.httpIdleTimeout.defaultDuration,
                requestTimeout: Duration = SettingsCatalog.httpRequestTimeout.defaultDuration) {
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
    }
}

extension LogFormat {
    /// LOG_FORMAT's declared default.
    public static var catalogDefault: LogFormat { LogFormat(rawValue: SettingsCatalog.logFormat.defaultText)! }
}

extension OffsetAnomalyPolicy {
    /// OFFSET_ANOMALY's declared default.
    public static var catalogDefault: OffsetAnomalyPolicy { OffsetAnomalyPolicy(rawValue: SettingsCatalog.offsetAnomaly.defaultText)! }
}
