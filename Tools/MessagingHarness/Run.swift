import ArgumentParser
import Foundation
import Kafka
import Logging
import Messaging
import Persistence

#if canImport(Glibc)
import Glibc
#endif

/// Runs the harness service until SIGTERM/SIGINT, with optional crash points for tests.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the service (until SIGTERM or SIGINT).")

    @Option(help: "Database URL: sqlite:///path/file.db or postgres://user:pw@host:port/db (or env DATABASE_URL).")
    var database: String?
    @OptionGroup var kafka: KafkaOptions
    @Option(help: "Consumer group.") var group = "messaging-harness"
    @Option(help: "Messages per poll / transaction.") var maxBatch = 500
    @Option(help: "SIGKILL itself right after the N-th batch's database commit, before the Kafka commit.")
    var crashAfterCommitBeforeKafkaCommit: Int?
    @Option(help: "SIGKILL itself right after the N-th relay round was acknowledged, before its rows are deleted.")
    var crashAfterPublishBeforeDelete: Int?
    @Flag(help: "Do not start the outbox relay.") var noRelay = false
    @Option var logLevel: Logger.Level = .notice

    func run() async throws {
        let logger = makeLogger("messaging-harness", level: logLevel)
        guard let url = database ?? ProcessInfo.processInfo.environment["DATABASE_URL"] else {
            throw ValidationError("give --database or set DATABASE_URL")
        }
        let kafkaConfiguration = try kafka.configuration()
        let db = try await openDatabase(url: url, logger: logger)
        try await db.migrate(HarnessService.migrations)

        var relayHooks = RelayHooks()
        if let n = crashAfterPublishBeforeDelete {
            relayHooks.afterPublish = { round in
                if round == n {
                    announce("messaging-harness: crashing after relay round \(round) was acknowledged, before deleting its rows")
                    raise(SIGKILL)
                }
            }
        }
        let relay = noRelay ? nil : OutboxRelay(
            database: db, configuration: RelayConfiguration(kafka: kafkaConfiguration), hooks: relayHooks,
            logger: makeLogger("messaging-harness.relay", level: logLevel))
        var consumerHooks = ConsumerHooks()
        if let n = crashAfterCommitBeforeKafkaCommit {
            consumerHooks.afterDatabaseCommit = { batch in
                if batch == n {
                    announce("messaging-harness: crashing after batch \(batch) committed to the database, before the Kafka commit")
                    raise(SIGKILL)
                }
            }
        }
        let runtime = ConsumerRuntime(
            configuration: ConsumerConfiguration(groupID: group, topics: [HarnessService.inputTopic],
                                                 kafka: kafkaConfiguration, maxBatchSize: maxBatch),
            database: db, relay: relay, hooks: consumerHooks,
            logger: makeLogger("messaging-harness.consumer", level: logLevel), handler: HarnessService.handler)

        let signals = [SIGTERM, SIGINT].map { number -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler { runtime.stop() }
            source.resume()
            return source
        }
        relay?.start()
        announce("messaging-harness: running (group \(group))")
        try await runtime.run()
        await relay?.shutdown()
        let stats = runtime.statistics
        await db.close()
        signals.forEach { $0.cancel() }
        announce("messaging-harness: stopped; handled \(stats.handled), skipped offset \(stats.skippedOffset) inbox \(stats.skippedInbox), dead-lettered \(stats.deadLettered)")
    }
}
