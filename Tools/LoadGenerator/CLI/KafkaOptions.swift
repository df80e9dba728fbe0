import ArgumentParser
import BusAccess
import Foundation
import Kafka
import KafkaCLI

/// Where Kafka is and how to reach it, read like the services read it (Services/API.md): flags,
/// then environment; either bootstrap flag beats both bootstrap variables (`KafkaBootstrap`).
struct KafkaOptions: ParsableArguments {
    /// The client id, and the prefix of the throwaway group ids of its partition readers: the
    /// brokers' ACLs let the load generator use groups with this prefix only (`BusAccess`).
    static let clientID = BusAccess.loadGenerator

    @Option(help: "Kafka bootstrap servers host:port,... (or env KAFKA_BOOTSTRAP).")
    var bootstrap: String?
    @Option(help: "File holding the bootstrap servers, as the dev cluster writes it (or env KAFKA_BOOTSTRAP_FILE).")
    var bootstrapFile: String?
    @Option(help: "true for the embedded dev cluster: short timeouts; false (the default) on real Kafka (or env KAFKA_DEV_CLUSTER_TUNING).")
    var devClusterTuning: String?
    @OptionGroup var client: KafkaClientOptions

    func configuration(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> KafkaConfiguration {
        let servers: String
        do {
            servers = try KafkaBootstrap.servers(list: bootstrap, file: bootstrapFile, environment: environment)
        } catch let failure as KafkaBootstrap.Failure {
            throw ValidationError(failure.description)
        }
        var configuration = KafkaConfiguration(bootstrapServers: servers, ["client.id": Self.clientID])
        if try parseBool(devClusterTuning ?? environment["KAFKA_DEV_CLUSTER_TUNING"].nonEmpty ?? "false",
                         option: "--dev-cluster-tuning") {
            configuration = configuration.merging(KafkaConfiguration.devClusterTuning)
        }
        return try client.apply(to: configuration, environment: environment)
    }
}

func parseBool(_ text: String, option: String) throws -> Bool {
    switch text.lowercased() {
    case "true", "1", "yes", "on": return true
    case "false", "0", "no", "off": return false
    default: throw ValidationError("\(option) must be true or false, got '\(text)'")
    }
}

extension Optional where Wrapped == String {
    /// nil for an unset or empty environment variable.
    var nonEmpty: String? {
        guard let self, !self.isEmpty else { return nil }
        return self
    }
}
