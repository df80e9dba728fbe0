import ArgumentParser
import Foundation
import Logging
import SagaAPI

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Send orders at a fixed rate (open model), follow each to its notification, drain, audit, report.",
        discussion: """
            Latencies count from each order's intended send time (start + i / rate), so a slow \
            service or a generator that falls behind shows in them. Exit status: 0 when every \
            accepted order finished, the audit passed with every check run (or --allow-not-checked), \
            no retry made a second order, no 5xx came outside a fault that explains it (a 503 while \
            the fault was on), and (with --fault-windows) every fault was felt and recovered within \
            --recovery-bound; 1 otherwise. The report's verdict says which: PASS, VIOLATION, HANG or ERROR.
            """)

    @OptionGroup var urls: ServiceURLOptions
    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var credentials: CredentialOptions
    @Option(help: "Seed catalog the services were started with (or env SEED_FILE); write one with `loadgen seed`.")
    var seedFile: String?
    @Option(help: "Orders per second.") var rate: Double
    @Option(help: "Seconds of traffic (give this or --orders).") var duration: Double?
    @Option(help: "Number of orders (give this or --duration).") var orders: Int?
    @Option(help: "Share of orders with a SKU that has no stock (expected: CANCELLED out_of_stock).")
    var outOfStockShare = 0.05
    @Option(help: "Share of orders from customers with balance 0 (expected: CANCELLED payment_failed).")
    var paymentFailureShare = 0.05
    @Option(help: "Share of orders from blocked customers (expected: CANCELLED payment_failed).")
    var blockedShare = 0.02
    @Option(help: "Share of orders posted twice with the same Idempotency-Key (expected: one order, CONFIRMED).")
    var idempotentRetryShare = 0.05
    @Option(help: "Most lines per order (distinct SKUs, quantity 1…3 each).") var maxLines = 3
    @Option(help: "Seed of the order mix: the same seed sends the same orders.") var randomSeed: UInt64 = 1
    @Option(help: "HTTP connections to the Order service (default: rate / 4, at least 8, at most 1024).")
    var connections: Int?
    @Option(help: "Write the report as JSON to this file.") var report: String?
    @Option(help: "Seconds to wait for the services' /readyz before sending.") var readyTimeout = 30.0
    @Option(help: "Seconds to wait after the last send for every accepted order to end and be notified.")
    var drainTimeout = 60.0
    @Flag(help: "Skip the audit after the drain.") var noAudit = false
    @Option(help: "Seconds a failing audit is re-read while the services may still be applying the last events (a consumer that fell behind during faults still has to sell or release what the saga decided).")
    var auditSettle = 30.0
    @Option(help: "Seconds allowed to read the saga topics for the audit.") var topicReadTimeout = 120.0
    @OptionGroup var instanceOptions: InstanceOptions
    @Option(help: "chaos.sh's fault windows (JSON lines), read after the drain: progress during each fault, recovery after its heal, saga timeouts it caused.")
    var faultWindows: String?
    @Option(help: "Seconds from a heal within which every order must be terminal and every consumer caught up; beyond: verdict HANG.")
    var recoveryBound = 60.0
    @Option(help: "Write the start time (unix ms) to this file when the first order is due (for scripts that time faults).")
    var readyFile: String?
    @Option(help: "Write the time (unix ms) to this file once every partition has had enough orders confirmed to show a fault's cut against (chaos.sh injects after it).")
    var steadyFile: String?
    @Flag(help: "A check that cannot run (no GET /consumer, no offset-gap counter, no consumer-lag sample) does not fail the run; the report says it was allowed.")
    var allowNotChecked = false
    @OptionGroup var log: LogLevelOption

    func validate() throws {
        guard rate > 0, rate.isFinite else { throw ValidationError("--rate must be a positive number of orders per second") }
        switch (duration, orders) {
        case (nil, nil), (.some, .some): throw ValidationError("give exactly one of --duration SECONDS or --orders N")
        case (.some(let seconds), nil) where !(seconds > 0): throw ValidationError("--duration must be positive")
        case (nil, .some(let count)) where count < 1: throw ValidationError("--orders must be at least 1")
        default: break
        }
        let shares = [("--out-of-stock-share", outOfStockShare), ("--payment-failure-share", paymentFailureShare),
                      ("--blocked-share", blockedShare), ("--idempotent-retry-share", idempotentRetryShare)]
        for (option, share) in shares where !(0...1).contains(share) {
            throw ValidationError("\(option) must be between 0 and 1, got \(share)")
        }
        guard shares.map(\.1).reduce(0, +) <= 1 else {
            throw ValidationError("the scenario shares add up to more than 1; lower --out-of-stock-share, --payment-failure-share, --blocked-share or --idempotent-retry-share")
        }
        guard maxLines >= 1 else { throw ValidationError("--max-lines must be at least 1") }
        if let connections, connections < 1 { throw ValidationError("--connections must be at least 1") }
        guard drainTimeout >= 0, readyTimeout >= 0, auditSettle >= 0, topicReadTimeout > 0 else {
            throw ValidationError("--drain-timeout, --ready-timeout and --audit-settle must not be negative; --topic-read-timeout must be positive")
        }
        guard recoveryBound > 0, recoveryBound.isFinite else { throw ValidationError("--recovery-bound must be a positive number of seconds") }
        _ = try instanceOptions.resolve(defaults: try urls.resolve())
        // Here rather than in run(), so a mistake is reported with this command's usage.
        _ = try seedPath()
        _ = try urls.resolve()
        _ = try kafka.configuration()
        _ = try credentials.keysDirectory()
        _ = try log.level()
    }

    func seedPath() throws -> String {
        guard let path = seedFile ?? ProcessInfo.processInfo.environment["SEED_FILE"].nonEmpty else {
            throw ValidationError("give --seed-file (or set SEED_FILE): the seed catalog the services were started with")
        }
        return path
    }

    func run() async throws {
        let count = orders ?? OpenLoopScheduler.count(rate: rate, duration: .milliseconds(Int64((duration ?? 0) * 1000)))
        let settings = LoadRunSettings(
            urls: try urls.resolve(), kafka: try kafka.configuration(), catalog: try SeedCatalog.loadForRun(path: try seedPath()),
            rate: rate, orders: count, durationSeconds: duration,
            mix: ScenarioMix(outOfStock: outOfStockShare, paymentFailure: paymentFailureShare, blocked: blockedShare,
                             idempotentRetry: idempotentRetryShare),
            maxLines: maxLines, randomSeed: randomSeed,
            connections: connections ?? min(1024, max(8, Int(rate / 4))),
            readyTimeout: .seconds(readyTimeout), drainTimeout: .seconds(drainTimeout), audit: !noAudit,
            auditSettle: .seconds(auditSettle), topicReadTimeout: .seconds(topicReadTimeout),
            instances: try instanceOptions.resolve(defaults: try urls.resolve()),
            faultWindowsPath: faultWindows, recoveryBound: .seconds(recoveryBound), readyFile: readyFile, steadyFile: steadyFile,
            allowNotChecked: allowNotChecked, credentials: try await credentials.load(),
            logger: Console.logger("loadgen", level: try log.level()))

        let stop = StopSignal()
        stop.install()
        defer { stop.uninstall() }
        let result = try await LoadRun.execute(settings, stop: stop)
        print(TextReport.render(result))
        if let report { try JSONReportWriter.write(result, to: report) }
        if !result.failures.isEmpty { throw ExitCode(1) }
    }
}
