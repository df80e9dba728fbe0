/// The verdict on one invariant of ARCHITECTURE.md §4.
struct InvariantResult: Sendable, Codable, Equatable {
    static let exampleLimit = 5

    let number: Int
    let title: String
    /// How many things were checked (orders, SKUs, customers, streams…; see `checkedWhat`).
    var checked = 0
    var checkedWhat: String
    var violations = 0
    /// The first few violations, each saying what was found and what was expected.
    var examples: [String] = []
    /// Observations that are not violations (absorbed redeliveries, records not checkable).
    var notes: [String] = []
    /// Of the violations, orders still PENDING (a hang rather than a wrong state).
    var stuck = 0
    /// Things that could not be judged, and why: an expected record missing from a partition
    /// whose oldest records retention deleted before the audit read them. Not violations, but
    /// the run is not called passed on them (`RunJudgement`, like an anomaly not checked).
    var unchecked = 0
    var uncheckedWhy: String?

    init(number: Int, title: String, checkedWhat: String) {
        self.number = number
        self.title = title
        self.checkedWhat = checkedWhat
    }

    var passed: Bool { violations == 0 }

    mutating func violation(_ text: @autoclosure () -> String) {
        violations += 1
        if examples.count < Self.exampleLimit { examples.append(text()) }
    }

    mutating func notCheckable(_ why: @autoclosure () -> String) {
        unchecked += 1
        if uncheckedWhy == nil { uncheckedWhy = why() }
    }
}

/// The audit's verdict over all invariants, plus the duplicate counters scraped from the services.
struct AuditResult: Sendable, Codable, Equatable {
    var invariants: [InvariantResult]
    /// Jepsen's Kafka anomaly classes (lost, duplicate, poll skip, nonmonotonic).
    var anomalies: [AnomalyResult] = []
    var duplicates: DuplicateMetrics?
    var notes: [String] = []

    var passed: Bool { invariants.allSatisfy(\.passed) && anomalies.allSatisfy(\.passed) }
    var failedInvariants: [Int] { invariants.filter { !$0.passed }.map(\.number) }
    var failedAnomalies: [String] { anomalies.filter { !$0.passed }.map(\.name) }
    /// Invariant violations plus the anomalies no invariant counts already (lost records, poll skips).
    var violationCount: Int {
        invariants.reduce(0) { $0 + $1.violations } + anomalies.filter(\.sameAsInvariants.isEmpty).reduce(0) { $0 + $1.count }
    }
    /// Violations that are orders still PENDING: the system hung rather than did something wrong.
    var stuckOrders: Int { invariants.reduce(0) { $0 + $1.stuck } }
    /// Every violation is an order still PENDING.
    var onlyStuck: Bool { stuckOrders > 0 && stuckOrders == violationCount }

    /// "invariant(s) 1, 4; lost" for a failure line.
    var failureSummary: String {
        var parts: [String] = []
        if !failedInvariants.isEmpty { parts.append("invariant(s) \(failedInvariants.map(String.init).joined(separator: ", "))") }
        let extra = anomalies.filter { !$0.passed && $0.sameAsInvariants.isEmpty }.map(\.name)
        if !extra.isEmpty { parts.append("anomalies " + extra.joined(separator: ", ")) }
        return parts.joined(separator: "; ")
    }
}
