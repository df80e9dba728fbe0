/// What happened to the orders of a run, for the report.
struct RunCounts: Sendable, Codable, Equatable {
    /// Orders whose first POST was issued.
    var sent = 0
    /// Orders answered 202.
    var accepted = 0
    /// Non-202 answers by HTTP status.
    var rejected: [String: Int] = [:]
    /// Requests without an HTTP answer (refused, timed out).
    var failed = 0
    var idempotentRetries = 0
    /// Retries that did not get 202 with the first answer's orderId.
    var idempotencyMismatches = 0
    /// Two different requests answered with the same orderId.
    var duplicateOrderIds = 0
    var confirmed = 0
    /// Cancelled orders by reason.
    var cancelled: [String: Int] = [:]
    var notified = 0
    /// Orders whose end was learned from the HTTP API during the drain, not from the topics.
    var resolvedByAPI = 0
    /// A second terminal event (another event-id) for an order already terminal.
    var conflictingTerminalEvents = 0
    /// A second NotificationSent (another event-id) for an order already notified.
    var repeatedNotifications = 0

    var errors: Int { rejected.values.reduce(0, +) + failed + idempotencyMismatches + duplicateOrderIds }
}

/// Expected against actual ends of one scenario's orders. A mismatch is worth a look but is
/// not an invariant violation: a saga timeout may legitimately cancel any order.
struct ScenarioResult: Sendable, Codable, Equatable {
    var scenario: Scenario
    var expected: String
    var sent = 0
    var accepted = 0
    var matched = 0
    var mismatched = 0
    var unfinished = 0
    var examples: [String] = []
}

/// A live view for the progress line.
struct RunProgress: Sendable, Equatable {
    var sent: Int
    /// When the latest request left; the achieved rate stops moving once sending is over.
    var lastIssuedAt: Duration?
    var inFlight: Int
    var accepted: Int
    var completed: Int
    var errors: Int
}
