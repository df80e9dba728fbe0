import ArgumentParser
import DevClusterAPI
import EventSchema
import Foundation
import Hummingbird
import Logging
import SagaAPI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
struct DevClusterCommand: AsyncParsableCommand {
    static let defaultGroups = ["order", "inventory", "payment", "notification", "loadgen"]

    static let configuration = CommandConfiguration(
        commandName: "dev-cluster",
        abstract: "Embedded Kafka for local runs: librdkafka's mock cluster with fault-injection controls.",
        discussion: """
            Creates every topic of the catalog, sets partition leaders and group coordinators, \
            writes the bootstrap list (stdout line 1, --bootstrap-file) and serves the control API \
            on 127.0.0.1 (stdout line 2, --control-file). Stops cleanly on SIGTERM/SIGINT.
            """)

    @Option(help: "Number of brokers (ids 1...N).")
    var brokers: Int = 3

    @Option(help: "Partitions of every catalog topic.")
    var partitions: Int = TopicCatalog.defaultPartitions

    @Option(help: "Write the bootstrap list here (atomically) once the topics exist.")
    var bootstrapFile: String?

    @Option(help: "Control API port on 127.0.0.1; 0 picks a free port.")
    var controlPort: Int = 0

    @Option(help: "Write the control URL here (atomically) once the API listens.")
    var controlFile: String?

    @Option(name: .customLong("group"),
            help: "Consumer group whose coordinator the cluster manages (repeatable; replaces the default \(defaultGroups.joined(separator: ", "))).")
    var groups: [String] = []

    @Option(help: "Default hold time of a pause, ms; above the clients' socket.timeout.ms so it behaves like docker pause.")
    var pauseRttMs: Int = 3_600_000

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(help: "librdkafka debug contexts for the mock (e.g. mock,broker); logged at debug level.")
    var rdkafkaDebug: String?

    @Flag(help: "Shut down when the parent process goes away (used by the test harness).")
    var exitWithParent = false

    func validate() throws {
        guard (1...64).contains(brokers) else { throw ValidationError("--brokers must be in 1...64") }
        guard (1...10_000).contains(partitions) else { throw ValidationError("--partitions must be in 1...10000") }
        guard (0...65_535).contains(controlPort) else { throw ValidationError("--control-port must be in 0...65535") }
        guard (1...Int(Int32.max)).contains(pauseRttMs) else { throw ValidationError("--pause-rtt-ms must be in 1...\(Int32.max)") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
        guard !groups.contains(where: \.isEmpty) else { throw ValidationError("--group must not be empty") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "dev-cluster")
        signal(SIGPIPE, SIG_IGN)

        // Stale files from an earlier run must not be mistaken for this one.
        for path in [bootstrapFile, controlFile].compactMap({ $0 }) { try? FileManager.default.removeItem(atPath: path) }

        let cluster = try MockCluster(
            config: .init(brokers: brokers, partitions: partitions,
                          groups: groups.isEmpty ? Self.defaultGroups : groups,
                          pauseRttMs: pauseRttMs, rdkafkaDebug: rdkafkaDebug),
            logger: logger)
        let bootstrap = cluster.bootstrap
        NoDelaySockets.keepApplying()
        logger.info("mock cluster up", metadata: [
            "brokers": "\(brokers)", "partitions": "\(partitions)", "bootstrap": "\(bootstrap)",
            "topics": "\(TopicCatalog.all.map(\.name).joined(separator: ","))",
        ])
        do {
            if let bootstrapFile { try writeAtomically(bootstrap + "\n", to: bootstrapFile) }
        } catch {
            await cluster.shutdown()
            throw error
        }
        printLine(bootstrap)

        let controlFile = self.controlFile
        let app = Application(
            router: ControlAPI.router(cluster: cluster),
            configuration: .init(address: .hostname("127.0.0.1", port: controlPort), serverName: "dev-cluster"),
            onServerRunning: { channel in
                let url = "http://127.0.0.1:\(channel.localAddress?.port ?? 0)"
                do {
                    if let controlFile { try writeAtomically(url + "\n", to: controlFile) }
                } catch {
                    logger.error("cannot write --control-file: \(error)")
                }
                printLine(url)
                logger.info("control API listening", metadata: ["url": "\(url)"])
            },
            logger: logger)

        if exitWithParent { watchParent(logger: logger) }

        var failure: (any Error)?
        do {
            try await app.runService()  // returns after SIGTERM/SIGINT once the server has stopped
        } catch {
            failure = error
            logger.error("control API failed: \(error)")
        }
        await cluster.shutdown()
        for path in [self.bootstrapFile, controlFile].compactMap({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
        if failure != nil { throw ExitCode.failure }
        logger.info("stopped")
    }

    /// Polls for reparenting (the parent died): then stops like on SIGTERM. Keeps a crashed
    /// test run from leaving a cluster behind.
    private func watchParent(logger: Logger) {
        let parent = getppid()
        Task.detached {
            while getppid() == parent {
                try? await Task.sleep(for: .milliseconds(500))
            }
            logger.warning("parent process \(parent) went away: shutting down")
            kill(getpid(), SIGTERM)
        }
    }
}

/// Unbuffered, so a reader of a pipe sees the line at once.
private func printLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Temp file in the same directory + rename(2): readers see the whole line or no file.
func writeAtomically(_ text: String, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let tmp = url.deletingLastPathComponent()
        .appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
    try Data(text.utf8).write(to: tmp)
    guard rename(tmp.path, url.path) == 0 else {
        let reason = String(cString: strerror(errno))
        try? FileManager.default.removeItem(at: tmp)
        throw Problem.mockFailed("cannot rename \(tmp.path) to \(path): \(reason)")
    }
}
