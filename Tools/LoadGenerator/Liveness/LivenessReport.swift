/// The liveness verdict of a run with fault windows: per window, progress while the fault was
/// on, recovery after its heal, and the saga timeouts it caused.
struct LivenessReport: Sendable, Codable, Equatable {
    var recoveryBoundSeconds: Double
    var windows: [WindowLiveness]
    /// Measurements that could not be made, and why.
    var notes: [String] = []

    var hang: Bool { windows.contains { $0.recovery.hang } }

    /// Orders placed and cancelled for the deadline while a clock was off. A service whose wall
    /// clock is minutes off must change nothing but timestamps (one clock decides a deadline,
    /// Order's database's), so each of them is a violation, unlike timeouts during other
    /// faults. A clock fault's window spans only the time every instance ran on the fake clock
    /// (chaos.sh leaves out the restarts onto it and back): an order caught in a restart and
    /// cancelled is the restart's, reported with the others in `timeoutCancellations`.
    var skewCancellations: [(fault: String, count: Int)] {
        windows.filter { $0.fault.hasPrefix("clock-") && $0.timeoutsWithin > 0 }.map { ($0.fault, $0.timeoutsWithin) }
    }

    /// Faults whose effect was not shown (or whose injection or heal failed): nothing about the
    /// run says the system survived them.
    var notFelt: [(fault: String, reasons: [String])] {
        windows.filter { !$0.felt.missing.isEmpty }.map { ($0.fault, $0.felt.missing) }
    }

    /// Restarts in which the service exited by itself before it was ready.
    var crashes: [(fault: String, crashes: [String])] {
        windows.filter { !$0.restarts.crashes.isEmpty }.map { ($0.fault, $0.restarts.crashes) }
    }
}

struct WindowLiveness: Sendable, Codable, Equatable {
    struct Progress: Sendable, Codable, Equatable {
        /// Orders answered 202 while the fault was on, per second; the steady state before the
        /// first fault for comparison (nil when there was none to measure).
        var acceptedPerSecond: Double
        var baselineAcceptedPerSecond: Double?
        /// Orders confirmed while the fault was on, per second, on `scope`'s partitions.
        var confirmedPerSecond: Double
        var baselineConfirmedPerSecond: Double?
        /// "untouched partitions (8 of 12)" or "every partition (the fault touches all)".
        var scope: String
        /// The untouched partitions confirmed less than a tenth of their rate before the fault.
        var stalled: Bool
    }

    struct Recovery: Sendable, Codable, Equatable {
        /// From the heal until every order accepted before it was terminal; nil: some never were.
        var ordersSeconds: Double?
        /// Orders accepted before the heal that never ended.
        var ordersNeverEnded: Int
        /// From the heal until every group had processed every record on its topics at the heal.
        var lagSeconds: Double?
        /// Why the lag part was not measured (nil when it was).
        var lagNotChecked: String?
        /// The longer of the two; nil when recovery never completed.
        var seconds: Double?
        var hang: Bool
        /// Why it is a hang, when it is.
        var reason: String?
    }

    /// Whether the fault was felt, and how that shows.
    struct Felt: Sendable, Codable, Equatable {
        /// chaos.sh's evidence, and the cut when the load generator measured one.
        var evidence: [String]
        /// Why the fault cannot be shown to have been there; empty when it was.
        var missing: [String]
    }

    struct Restarts: Sendable, Codable, Equatable {
        var retries: Int
        var crashes: [String]
    }

    var fault: String
    var detail: String?
    var start: Int64
    var end: Int64
    var seconds: Double
    /// nil: every partition.
    var touchedPartitions: [Int32]?
    var acceptedDuring: Int
    var confirmedDuring: Int
    var progress: Progress
    var recovery: Recovery
    /// Orders cancelled for the saga deadline whose life overlaps the fault (reported; a violation
    /// only for clock faults, see `LivenessReport.skewCancellations`).
    var timeoutCancellations: Int
    /// Of those, the orders both placed and cancelled inside the window.
    var timeoutsWithin: Int = 0
    var felt = Felt(evidence: [], missing: [])
    var restarts = Restarts(retries: 0, crashes: [])
}
