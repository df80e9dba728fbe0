/// Everything a run reports: printed as text on stdout, written as JSON with `--report`.
struct RunReport: Sendable, Codable {
    struct Config: Sendable, Codable {
        var services: ServiceURLs
        var rate: Double
        /// Orders the schedule holds (from --orders, or --duration × --rate).
        var plannedOrders: Int
        var durationSeconds: Double?
        var mix: ScenarioMix
        var maxLines: Int
        var randomSeed: UInt64
        var connections: Int
        var drainTimeoutSeconds: Double
        var audit: Bool
        /// `--allow-not-checked`: checks that could not run did not fail the run.
        var allowNotChecked: Bool
    }

    struct Drain: Sendable, Codable {
        var seconds: Double
        /// Accepted orders not both terminal and notified when the drain ended.
        var unfinished: Int
        var unfinishedExamples: [String]
    }

    var config: Config
    var startedAt: String
    /// From the first intended send to the last actual one.
    var sendSeconds: Double
    var achievedRate: Double
    var counts: RunCounts
    var errors: Int
    var errorExamples: [String]
    /// The 5xx answers: those a fault explains (503 in its window) and those that fail the run.
    var serverErrors: ServerErrorReport
    var latencyMs: LatencyReport
    var scenarios: [ScenarioResult]
    var drain: Drain
    var audit: AuditResult?
    /// Progress and recovery around chaos.sh's fault windows (with --fault-windows).
    var liveness: LivenessReport?
    /// Checks that could not run, and why: each fails the run unless `config.allowNotChecked`.
    var notChecked: [String]
    var verdict: Verdict
    /// Why the run failed, if it did (also the exit status).
    var failures: [String]
}

/// A run in one word, for the fault matrix.
enum Verdict: String, Sendable, Codable, Equatable {
    case pass = "PASS"
    /// An invariant or an anomaly check failed, a retry made a second order, an orderId was given
    /// twice, a 5xx came with no fault to explain it: something is wrong, not just late.
    case violation = "VIOLATION"
    /// Orders or consumers did not finish: after the drain, or past the recovery bound after a heal.
    case hang = "HANG"
    /// The run could not be judged: the audit or the liveness check did not run, a check was not
    /// checked, a fault was not shown to be felt, nothing was accepted (see `RunJudgement`).
    case error = "ERROR"
}
