import ArgumentParser
import Kafka

/// The command-line options every client of the brokers shares (the services, loadgen,
/// kafka-tool): TLS from PEM files, each flag falling back to its KAFKA_TLS_* variable
/// (`KafkaTLS`, Services/API.md), and `-X` librdkafka properties, which may carry no secret.
public struct KafkaClientOptions: ParsableArguments {
    @Option(name: .customLong(KafkaTLS.caFlag), help: "\(KafkaTLS.caHelp) (env \(KafkaTLS.caVariable))")
    public var caFile: String?
    @Option(name: .customLong(KafkaTLS.certificateFlag), help: "\(KafkaTLS.certificateHelp) (env \(KafkaTLS.certificateVariable))")
    public var certificateFile: String?
    @Option(name: .customLong(KafkaTLS.keyFlag), help: "\(KafkaTLS.keyHelp) (env \(KafkaTLS.keyVariable))")
    public var keyFile: String?
    @Option(name: .customLong(KafkaTLS.keyPasswordFlag), help: "\(KafkaTLS.keyPasswordHelp) (env \(KafkaTLS.keyPasswordVariable))")
    public var keyPasswordFile: String?
    @Option(name: .customShort("X"), help: "A librdkafka property key=value (repeatable; no secrets: those come from files).")
    public var properties: [String] = []

    public init() {}

    /// `configuration` with TLS and then the `-X` properties applied; an error names the setting to fix.
    public func apply(to configuration: KafkaConfiguration, environment: [String: String]) throws -> KafkaConfiguration {
        let tls = KafkaTLS.resolve(caFile: caFile, certificateFile: certificateFile, keyFile: keyFile,
                                   keyPasswordFile: keyPasswordFile, environment: environment)
        do {
            return try configuration.applying(tls: tls, commandLine: properties)
        } catch let failure as KafkaTLS.Failure {
            throw ValidationError(failure.description)
        }
    }
}
