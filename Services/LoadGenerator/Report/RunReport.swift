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
    var latencyMs: LatencyReport
    var scenarios: [ScenarioResult]
    var drain: Drain
    var audit: AuditResult?
    /// Progress and recovery around chaos.sh's fault windows (with --fault-windows).
    var liveness: LivenessReport?
    var verdict: Verdict
    /// Why the run failed, if it did (also the exit status).
    var failures: [String]
}

/// A run in one word, for the fault matrix.
enum Verdict: String, Sendable, Codable, Equatable {
    case pass = "PASS"
    /// An invariant or an anomaly check failed: something is wrong, not just late.
    case violation = "VIOLATION"
    /// Orders or consumers did not finish: after the drain, or past the recovery bound after a heal.
    case hang = "HANG"
    /// The run could not be judged (the audit or the liveness check did not run, nothing accepted).
    case error = "ERROR"

    static func of(audit: AuditResult?, unfinished: Int, liveness: LivenessReport?, couldNotJudge: Bool) -> Verdict {
        if let audit, !audit.passed, !audit.onlyStuck { return .violation }
        if liveness?.skewCancellations.isEmpty == false { return .violation }
        if unfinished > 0 || liveness?.hang == true || audit?.onlyStuck == true { return .hang }
        return couldNotJudge ? .error : .pass
    }
}
