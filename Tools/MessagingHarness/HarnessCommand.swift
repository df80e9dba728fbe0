import ArgumentParser
import Foundation
import Kafka
import Logging

struct HarnessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "messaging-harness",
        abstract: "A minimal service on the messaging runtime: consumes OrderPlaced, emits StockReserved through the outbox.",
        subcommands: [Run.self, Bench.self],
        defaultSubcommand: Run.self)
}

/// Where Kafka is and how to talk to it.
struct KafkaOptions: ParsableArguments {
    @Option(help: "Bootstrap servers (host:port,...).") var bootstrap: String?
    @Option(help: "File holding the bootstrap servers (the dev cluster writes one).") var bootstrapFile: String?
    @Flag(inversion: .prefixedNo, help: "Apply the dev cluster client tuning (short session timeout, small fetch wait); off by default, as on real Kafka.")
    var devClusterTuning = false
    @Option(name: .customShort("X"), help: "A librdkafka property key=value (repeatable), for consumer and producer.")
    var properties: [String] = []

    func configuration() throws -> KafkaConfiguration {
        var servers = bootstrap
        if servers == nil, let bootstrapFile {
            servers = try String(contentsOfFile: bootstrapFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let servers, !servers.isEmpty else {
            throw ValidationError("give --bootstrap or --bootstrap-file")
        }
        var configuration = KafkaConfiguration(bootstrapServers: servers)
        if devClusterTuning { configuration = configuration.merging(KafkaConfiguration.devClusterTuning) }
        for property in properties {
            let parts = property.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ValidationError("-X expects key=value, got \(property)") }
            configuration[parts[0]] = parts[1]
        }
        return configuration
    }
}

func makeLogger(_ label: String, level: Logger.Level) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = level
    return logger
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Writes straight to stderr (unbuffered), e.g. just before the process kills itself.
func announce(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

extension HarnessCommand {
    /// The async entry point. Called from main.swift's top-level code, where `main()` would
    /// resolve to the synchronous overload (which refuses async subcommands).
    static func start() async {
        await main()
    }
}
