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
}

/// The audit's verdict over all invariants, plus the duplicate counters scraped from the services.
struct AuditResult: Sendable, Codable, Equatable {
    var invariants: [InvariantResult]
    var duplicates: DuplicateMetrics?
    var notes: [String] = []

    var passed: Bool { invariants.allSatisfy(\.passed) }
    var failedInvariants: [Int] { invariants.filter { !$0.passed }.map(\.number) }
    var violationCount: Int { invariants.reduce(0) { $0 + $1.violations } }
}
