import Foundation
import Kafka
import Logging
import SagaAPI

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
    /// Whose consumers and metrics the audit and the liveness check read.
    var instances: [ServiceInstance]
    /// chaos.sh's fault windows, read after the drain; nil: no liveness check.
    var faultWindowsPath: String? = nil
    var recoveryBound: Duration = .seconds(60)
    /// Written (the start's unix ms) when the first order is due, for a script that times faults.
    var readyFile: String? = nil
    /// Written (unix ms) once every partition had enough orders confirmed to show a fault's cut against.
    var steadyFile: String? = nil
    /// A check that cannot run (no GET /consumer, no gap counter, no lag sample) passes instead of failing the run.
    var allowNotChecked = false
    var credentials: LoadCredentials
    var logger: Logger
}

/// Send → follow → drain → audit → report.
enum LoadRun {
    static func execute(_ settings: LoadRunSettings, stop: StopSignal) async throws -> RunReport {
        let clock = SystemLoadClock()
        let http = ServiceHTTPClient(connections: settings.connections, defaultToken: settings.credentials.auditorToken)
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
        let follower = try await EventFollower.start(configuration: settings.kafka, tracker: tracker, clock: clock,
                                                     authenticator: settings.credentials.authenticator, logger: logger)
        let sampler = try settings.faultWindowsPath.map { _ in
            try ConsumerSampler(http: http, instances: settings.instances, kafka: settings.kafka, logger: logger)
        }
        await sampler?.start()
        let startDate = Date()
        let startedAt = ISO8601DateFormatter().string(from: startDate)
        let start = clock.now()
        let wallMs = { (time: Duration) -> Int64 in WallClock.unixMillis(startDate) + Int64((time - start).milliseconds.rounded()) }
        if let readyFile = settings.readyFile { try writeReadyFile(readyFile, unixMillis: WallClock.unixMillis(startDate)) }
        let steady = settings.steadyFile.map { path in
            Task { [partitionCount = follower.partitionCount] in
                do {
                    try await SteadyState.watch(tracker, partitionCount: partitionCount, path: path)
                } catch is CancellationError {
                } catch {
                    logger.error("\(error)")
                }
            }
        }
        let progress = Task {
            await ProgressReporter(tracker: tracker, clock: clock, start: start, interactive: Console.stderrIsTerminal).run()
        }

        let sender = OrderSender(api: HTTPOrderPlacing(http: http, baseURL: settings.urls.order, credentials: settings.credentials),
                                 tracker: tracker, clock: clock)
        await OpenLoopScheduler(rate: settings.rate, count: settings.orders)
            .run(clock: clock, start: start, shouldStop: { stop.isStopped }) { arrival in
                await sender.send(planner.order(arrival.index), arrival: arrival)
            }
        let lastIssued = await tracker.lastIssuedAt
        steady?.cancel()

        let drainStart = clock.now()
        let unfinished = await Drainer(tracker: tracker, lookup: state, clock: clock, timeout: settings.drainTimeout, logger: logger).drain()
        let drainSeconds = (clock.now() - drainStart).seconds
        progress.cancel()
        await progress.value
        if let sampler, let path = settings.faultWindowsPath,
           let lastHeal = (try? FaultWindowFile.load(path: path))?.map(\.recoveryStart).max() {
            await sampler.awaitCatchUp(after: lastHeal, bound: settings.recoveryBound)
        }
        let samples = await sampler?.stop()
        await follower.stop()

        var audit: AuditResult?
        var auditError: String?
        if settings.audit {
            let runner = AuditRunner(
                collector: SnapshotCollector(state: state, instances: settings.instances, kafka: settings.kafka,
                                             topicReadTimeout: settings.topicReadTimeout,
                                             authenticator: settings.credentials.authenticator, logger: logger),
                settle: settings.auditSettle, clock: clock, logger: logger)
            do {
                audit = try await runner.run(acceptedOrderIds: await tracker.acceptedOrderIds)
            } catch {
                auditError = "\(error)"
            }
        }

        var windows: [FaultWindow] = []
        var liveness: LivenessReport?
        var livenessError: String?
        if let path = settings.faultWindowsPath {
            do {
                windows = try FaultWindowFile.load(path: path)
                let lives = await tracker.lives().map { life in
                    OrderLife(orderId: life.orderId,
                              partition: Murmur2Partitioner.partition(forKey: life.orderId, partitionCount: follower.partitionCount),
                              acceptedAt: wallMs(life.acceptedAt), endedAt: life.endedAt.map(wallMs), outcome: life.outcome)
                }
                liveness = LivenessCheck.run(.init(
                    windows: windows, orders: lives, sendStart: WallClock.unixMillis(startDate),
                    partitionCount: follower.partitionCount, samples: samples ?? .unavailable("not sampled"),
                    recoveryBoundSeconds: settings.recoveryBound.seconds))
            } catch {
                livenessError = "\(error)"
            }
        }

        let result = await tracker.result()
        let serverErrors = ServerErrorReport.judge(
            result.serverErrors.map { ServerErrorAnswer(status: $0.status, issuedAt: wallMs($0.issuedAt), answeredAt: wallMs($0.answeredAt), detail: $0.detail) },
            windows: windows)
        let judgement = RunJudgement.judge(.init(
            counts: result.counts, serverErrors: serverErrors, audit: audit, auditError: auditError,
            liveness: liveness, livenessError: livenessError, unfinished: unfinished.count,
            drainTimeout: settings.drainTimeout, allowNotChecked: settings.allowNotChecked))
        // The send window ends one slot after the last send: an on-time run achieves exactly --rate.
        let sendSeconds = lastIssued.map { ($0 - start).seconds + 1 / settings.rate } ?? 0
        return RunReport(
            config: .init(services: settings.urls, rate: settings.rate, plannedOrders: settings.orders,
                          durationSeconds: settings.durationSeconds, mix: settings.mix, maxLines: settings.maxLines,
                          randomSeed: settings.randomSeed, connections: settings.connections,
                          drainTimeoutSeconds: settings.drainTimeout.seconds, audit: settings.audit,
                          allowNotChecked: settings.allowNotChecked),
            startedAt: startedAt, sendSeconds: sendSeconds,
            achievedRate: sendSeconds > 0 ? Double(result.counts.sent) / sendSeconds : 0,
            counts: result.counts, errors: result.counts.errors, errorExamples: result.errorExamples, serverErrors: serverErrors,
            latencyMs: result.latencies, scenarios: result.scenarios,
            drain: .init(seconds: drainSeconds, unfinished: unfinished.count, unfinishedExamples: Array(unfinished.prefix(5))),
            audit: audit, liveness: liveness, notChecked: judgement.notChecked,
            verdict: judgement.verdict, failures: judgement.failures)
    }

    private static func writeReadyFile(_ path: String, unixMillis: Int64) throws {
        do {
            try Data("\(unixMillis)\n".utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw LoadGenError("cannot write the ready file \(path) (--ready-file): \(error.localizedDescription)")
        }
    }
}
