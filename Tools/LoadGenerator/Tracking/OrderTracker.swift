/// Follows every order of a run from its intended send time to its notification, and
/// records the latencies. Times come from the run's `LoadClock`.
///
/// Kafka may deliver an order's end before its HTTP 202 has been processed here (the saga is
/// fast, the response path is not), so events for an order not yet known wait in `early`.
actor OrderTracker {
    private struct Tracked {
        let scenario: Scenario
        let intended: Duration
        let acceptedAt: Duration
        var outcome: Outcome?
        /// When the outcome became known here.
        var endedAt: Duration?
        var terminalEventId: String?
        var notified = false
        var notificationEventId: String?

        var isFinished: Bool { outcome != nil && notified }
    }

    /// Events of unknown orders kept at most (beyond: other traffic on the topics, dropped).
    static let earlyLimit = 100_000
    static let exampleLimit = 5

    private var orders: [String: Tracked] = [:]
    private var early: [String: [(event: FollowedEvent, at: Duration)]] = [:]
    private var earlyCount = 0
    private var counts = RunCounts()
    private var latencies = RunLatencies()
    private var inFlight = 0
    private var finished = 0
    private var scenarios: [Scenario: ScenarioResult] = [:]
    private var errorExamples: [String] = []
    private var serverErrors: [ServerErrorAnswer.Timed] = []
    /// When the latest request left (the end of the send phase, for the achieved rate).
    private(set) var lastIssuedAt: Duration?

    // MARK: - The HTTP side

    func requestIssued(_ scenario: Scenario, at: Duration) {
        lastIssuedAt = max(lastIssuedAt ?? at, at)
        counts.sent += 1
        inFlight += 1
        updateScenario(scenario) { $0.sent += 1 }
    }

    func requestAnswered() {
        inFlight -= 1
    }

    func accepted(orderId: String, scenario: Scenario, intended: Duration, at: Duration) {
        guard orders[orderId] == nil else {
            counts.duplicateOrderIds += 1
            noteError("two orders were answered with the same orderId \(orderId)")
            return
        }
        counts.accepted += 1
        updateScenario(scenario) { $0.accepted += 1 }
        latencies.accepted.record(at - intended)
        orders[orderId] = Tracked(scenario: scenario, intended: intended, acceptedAt: at)
        if let waiting = early.removeValue(forKey: orderId) {
            earlyCount -= waiting.count
            for (event, eventTime) in waiting { apply(event, at: eventTime) }
        }
    }

    func rejected(status: Int, detail: String) {
        counts.rejected[String(status), default: 0] += 1
        noteError("POST /orders answered \(status): \(detail)")
    }

    /// A 5xx answer, with when its request left and when the answer came: the verdict asks
    /// whether a fault window explains it (`ServerErrorJudgement`).
    func serverError(status: Int, issuedAt: Duration, answeredAt: Duration, detail: String) {
        counts.rejected[String(status), default: 0] += 1
        serverErrors.append(.init(status: status, issuedAt: issuedAt, answeredAt: answeredAt, detail: detail))
        noteError("POST /orders answered \(status): \(detail)")
    }

    func failed(_ message: String) {
        counts.failed += 1
        noteError(message)
    }

    func idempotentRetry(mismatch: String?) {
        counts.idempotentRetries += 1
        if let mismatch {
            counts.idempotencyMismatches += 1
            noteError(mismatch)
        }
    }

    // MARK: - The Kafka side

    func observe(_ event: FollowedEvent, at: Duration) {
        guard orders[event.orderId] != nil else {
            if earlyCount < Self.earlyLimit {
                early[event.orderId, default: []].append((event, at))
                earlyCount += 1
            }
            return
        }
        apply(event, at: at)
    }

    private func apply(_ event: FollowedEvent, at: Duration) {
        guard var order = orders[event.orderId] else { return }
        let wasFinished = order.isFinished
        switch event.kind {
        case .confirmed, .cancelled:
            let outcome: Outcome = if case .cancelled(let reason) = event.kind { .cancelled(reason: reason) } else { .confirmed }
            if let known = order.terminalEventId {
                // The same event-id again is the relay publishing twice: fine. Another one is not.
                if known != event.eventId { counts.conflictingTerminalEvents += 1 }
                return
            }
            order.terminalEventId = event.eventId
            setOutcome(outcome, of: &order, at: at, latency: at - order.intended, sinceAccepted: at - order.acceptedAt)
        case .notified:
            if let known = order.notificationEventId {
                if known != event.eventId { counts.repeatedNotifications += 1 }
                return
            }
            order.notificationEventId = event.eventId
            order.notified = true
            counts.notified += 1
            latencies.notified.record(at - order.intended)
        }
        if !wasFinished, order.isFinished { finished += 1 }
        orders[event.orderId] = order
    }

    private func setOutcome(_ outcome: Outcome, of order: inout Tracked, at: Duration, latency: Duration?, sinceAccepted: Duration?) {
        order.outcome = outcome
        order.endedAt = at
        switch outcome {
        case .confirmed:
            counts.confirmed += 1
            if let latency { latencies.confirmed.record(latency) }
            if let sinceAccepted { latencies.acceptedToConfirmed.record(sinceAccepted) }
        case .cancelled(let reason):
            counts.cancelled[reason ?? "unknown", default: 0] += 1
            if let latency { latencies.cancelled.record(latency) }
        }
    }

    // MARK: - The drain's fallback to the HTTP API

    /// Accepted orders not yet both terminal and notified.
    func unfinishedOrderIds() -> [String] {
        orders.filter { !$0.value.isFinished }.map(\.key).sorted()
    }

    /// What the Order and Notification APIs say about an order the topics did not finish, asked
    /// `at`. No latency is recorded: the time the state changed is not known here; `at` is a
    /// bound on it.
    func resolvedByAPI(orderId: String, outcome: Outcome?, notified: Bool, at: Duration) {
        guard var order = orders[orderId], !order.isFinished else { return }
        var learned = false
        if order.outcome == nil, let outcome {
            setOutcome(outcome, of: &order, at: at, latency: nil, sinceAccepted: nil)
            learned = true
        }
        if !order.notified, notified {
            order.notified = true
            counts.notified += 1
            learned = true
        }
        if learned { counts.resolvedByAPI += 1 }
        if order.isFinished { finished += 1 }
        orders[orderId] = order
    }

    // MARK: - Reading out

    func progress() -> RunProgress {
        RunProgress(sent: counts.sent, lastIssuedAt: lastIssuedAt, inFlight: inFlight, accepted: counts.accepted, completed: finished, errors: counts.errors)
    }

    var acceptedOrderIds: Set<String> { Set(orders.keys) }

    /// Every accepted order's 202 and end, on the run's clock.
    /// The confirmed orders' ids, in no order (the steady-state watch asks often: no sort, no copies of the rest).
    func confirmedOrderIds() -> [String] {
        orders.compactMap { $0.value.outcome == .confirmed ? $0.key : nil }
    }

    func lives() -> [(orderId: String, acceptedAt: Duration, endedAt: Duration?, outcome: Outcome?)] {
        orders.map { ($0.key, $0.value.acceptedAt, $0.value.endedAt, $0.value.outcome) }.sorted { $0.orderId < $1.orderId }
    }

    struct Result: Sendable {
        let counts: RunCounts
        let latencies: LatencyReport
        let scenarios: [ScenarioResult]
        let unfinished: Int
        let errorExamples: [String]
        /// Every 5xx answer, on the run's clock.
        let serverErrors: [ServerErrorAnswer.Timed]
    }

    func result() -> Result {
        var byScenario = scenarios
        for (orderId, order) in orders.sorted(by: { $0.key < $1.key }) {
            guard let outcome = order.outcome else {
                byScenario[order.scenario]?.unfinished += 1
                continue
            }
            if outcome == order.scenario.expected {
                byScenario[order.scenario]?.matched += 1
            } else {
                byScenario[order.scenario]?.mismatched += 1
                if (byScenario[order.scenario]?.examples.count ?? 0) < Self.exampleLimit {
                    byScenario[order.scenario]?.examples.append("\(orderId): expected \(order.scenario.expected), got \(outcome)")
                }
            }
        }
        return Result(counts: counts, latencies: latencies.report, scenarios: byScenario.values.sorted { $0.scenario < $1.scenario },
                      unfinished: orders.count - finished, errorExamples: errorExamples, serverErrors: serverErrors)
    }

    /// One order as tracked (tests).
    func trace(_ orderId: String) -> (intended: Duration, acceptedAt: Duration, outcome: Outcome?, notified: Bool)? {
        orders[orderId].map { ($0.intended, $0.acceptedAt, $0.outcome, $0.notified) }
    }

    private func updateScenario(_ scenario: Scenario, _ change: (inout ScenarioResult) -> Void) {
        change(&scenarios[scenario, default: ScenarioResult(scenario: scenario, expected: scenario.expected.description)])
    }

    private func noteError(_ text: String) {
        if errorExamples.count < Self.exampleLimit { errorExamples.append(text) }
    }
}
