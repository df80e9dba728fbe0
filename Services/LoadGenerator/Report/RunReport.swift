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
    /// Why the run failed, if it did (also the exit status).
    var failures: [String]
}
