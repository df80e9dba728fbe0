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
    @Option(help: "true for the embedded dev cluster: short timeouts; false on real Kafka (or env KAFKA_DEV_CLUSTER_TUNING). Default: true when the bootstrap file's folder holds the dev cluster's `control` file (a local-stack run folder), else false.")
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
        // Real Kafka's defaults against the dev cluster put half a second into every latency
        // this client measures; a run folder says which cluster it is.
        let tuning = try devClusterTuning.map { try parseBool($0, option: "--dev-cluster-tuning") }
            ?? environment["KAFKA_DEV_CLUSTER_TUNING"].nonEmpty.map { try parseBool($0, option: "KAFKA_DEV_CLUSTER_TUNING") }
            ?? Self.isDevClusterRunFolder(bootstrapFile: bootstrapFile ?? environment["KAFKA_BOOTSTRAP_FILE"].nonEmpty)
        if tuning {
            configuration = configuration.merging(KafkaConfiguration.devClusterTuning)
        }
        return try client.apply(to: configuration, environment: environment)
    }

    /// The dev cluster writes its bootstrap and `control` files side by side (`--bootstrap-file`,
    /// `--control-file`; deploy/local-stack.sh puts both in the run folder).
    static func isDevClusterRunFolder(bootstrapFile: String?) -> Bool {
        guard let bootstrapFile else { return false }
        let control = URL(fileURLWithPath: bootstrapFile).deletingLastPathComponent().appendingPathComponent("control")
        return FileManager.default.fileExists(atPath: control.path)
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
