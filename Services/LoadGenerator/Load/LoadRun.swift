import Foundation
import Kafka
import Logging

/// A run, fully resolved from the command line.
struct LoadRunSettings: Sendable {
    var urls: ServiceURLs
    var kafka: KafkaConfiguration
    var catalog: SeedCatalog
    var rate: Double
    var orders: Int
    var durationSeconds: Double?
    var mix: ScenarioMix
    var maxLines: Int
    var randomSeed: UInt64
    var connections: Int
    var readyTimeout: Duration
    var drainTimeout: Duration
    var audit: Bool
    var auditSettle: Duration
    var topicReadTimeout: Duration
    var logger: Logger
}

/// Send → follow → drain → audit → report.
enum LoadRun {
    static func execute(_ settings: LoadRunSettings, stop: StopSignal) async throws -> RunReport {
        let clock = SystemLoadClock()
        let http = ServiceHTTPClient(connections: settings.connections)
        do {
            let report = try await execute(settings, clock: clock, http: http, stop: stop)
            await http.shutdown()
            return report
        } catch {
            await http.shutdown()
            throw error
        }
    }

    private static func execute(_ settings: LoadRunSettings, clock: SystemLoadClock, http: ServiceHTTPClient,
                                stop: StopSignal) async throws -> RunReport {
        let logger = settings.logger
        let pools = SeedPools(settings.catalog)
        try pools.check(settings.mix)
        let planner = OrderPlanner(pools: pools, mix: settings.mix, maxLines: settings.maxLines, randomSeed: settings.randomSeed)
        let state = StateReader(http: http, urls: settings.urls)
        try await ReadinessCheck(http: http, urls: settings.urls, clock: clock).wait(timeout: settings.readyTimeout)

        let tracker = OrderTracker()
        let follower = try await EventFollower.start(configuration: settings.kafka, tracker: tracker, clock: clock, logger: logger)
        let startedAt = ISO8601DateFormatter().string(from: Date())
        let start = clock.now()
        let progress = Task {
            await ProgressReporter(tracker: tracker, clock: clock, start: start, interactive: Console.stderrIsTerminal).run()
        }

        let sender = OrderSender(api: HTTPOrderPlacing(http: http, baseURL: settings.urls.order), tracker: tracker, clock: clock)
        await OpenLoopScheduler(rate: settings.rate, count: settings.orders)
            .run(clock: clock, start: start, shouldStop: { stop.isStopped }) { arrival in
                await sender.send(planner.order(arrival.index), arrival: arrival)
            }
        let lastIssued = await tracker.lastIssuedAt

        let drainStart = clock.now()
        let unfinished = await Drainer(tracker: tracker, lookup: state, clock: clock, timeout: settings.drainTimeout, logger: logger).drain()
        let drainSeconds = (clock.now() - drainStart).seconds
        progress.cancel()
        await progress.value
        await follower.stop()

        var failures: [String] = []
        var audit: AuditResult?
        if settings.audit {
            let runner = AuditRunner(
                collector: SnapshotCollector(state: state, kafka: settings.kafka, topicReadTimeout: settings.topicReadTimeout, logger: logger),
                scraper: MetricsScraper(http: http, urls: settings.urls), settle: settings.auditSettle, clock: clock, logger: logger)
            do {
                audit = try await runner.run(acceptedOrderIds: await tracker.acceptedOrderIds)
                if let audit, !audit.passed {
                    failures.append("audit found \(audit.violationCount) violations of invariant(s) \(audit.failedInvariants.map(String.init).joined(separator: ", "))")
                }
            } catch {
                failures.append("the audit could not run: \(error)")
            }
        }

        let result = await tracker.result()
        if !unfinished.isEmpty {
            failures.append("\(unfinished.count) accepted orders were not terminal and notified after the \(settings.drainTimeout) drain")
        }
        if result.counts.sent > 0, result.counts.accepted == 0 {
            failures.append("no order was accepted (see the errors above)")
        }
        // The send window ends one slot after the last send: an on-time run achieves exactly --rate.
        let sendSeconds = lastIssued.map { ($0 - start).seconds + 1 / settings.rate } ?? 0
        return RunReport(
            config: .init(services: settings.urls, rate: settings.rate, plannedOrders: settings.orders,
                          durationSeconds: settings.durationSeconds, mix: settings.mix, maxLines: settings.maxLines,
                          randomSeed: settings.randomSeed, connections: settings.connections,
                          drainTimeoutSeconds: settings.drainTimeout.seconds, audit: settings.audit),
            startedAt: startedAt, sendSeconds: sendSeconds,
            achievedRate: sendSeconds > 0 ? Double(result.counts.sent) / sendSeconds : 0,
            counts: result.counts, errors: result.counts.errors, errorExamples: result.errorExamples,
            latencyMs: result.latencies, scenarios: result.scenarios,
            drain: .init(seconds: drainSeconds, unfinished: unfinished.count, unfinishedExamples: Array(unfinished.prefix(5))),
            audit: audit, failures: failures)
    }
}
