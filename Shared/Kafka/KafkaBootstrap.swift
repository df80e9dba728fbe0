import Foundation

/// Where Kafka is, read the same way by the services and the load generator (Services/API.md):
/// a bootstrap list or a file holding one (the dev cluster writes it), each given by a flag or
/// by an environment variable.
///
/// Flags beat environment variables as a pair: a `--bootstrap-file` on the command line wins
/// over a `KAFKA_BOOTSTRAP` the shell happens to export, as `--bootstrap` wins over
/// `KAFKA_BOOTSTRAP_FILE`, so a command line means what it says. Within one source the list
/// wins over the file.
public enum KafkaBootstrap {
    public static let listVariable = "KAFKA_BOOTSTRAP"
    public static let fileVariable = "KAFKA_BOOTSTRAP_FILE"

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// The bootstrap servers (`host:port,...`) from the flags if either is given, else from the
    /// environment.
    public static func servers(list: String?, file: String?, environment: [String: String]) throws -> String {
        let fromFlags = list != nil || file != nil
        let list = fromFlags ? list : nonEmpty(environment[listVariable])
        let file = fromFlags ? file : nonEmpty(environment[fileVariable])
        if let list {
            guard !list.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw Failure(description: "the Kafka bootstrap list is empty (\(fromFlags ? "--bootstrap" : listVariable))")
            }
            return list
        }
        guard let file else {
            throw Failure(description: "no Kafka given: set \(listVariable) (or --bootstrap host:port,...) or \(fileVariable) (or --bootstrap-file)")
        }
        let origin = fromFlags ? "--bootstrap-file" : fileVariable
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw Failure(description: "cannot read the bootstrap file \(file) (\(origin)); is the dev cluster running?")
        }
        let servers = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !servers.isEmpty else {
            throw Failure(description: "the bootstrap file \(file) (\(origin)) is empty")
        }
        return servers
    }

    private static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }
}
