/// What kind of order to send, and how its saga is expected to end.
enum Scenario: String, Sendable, Codable, CaseIterable, Comparable {
    case normal
    case outOfStock = "out_of_stock"
    case paymentFailure = "payment_failure"
    case blocked
    case idempotentRetry = "idempotent_retry"

    var expected: Outcome {
        switch self {
        case .normal, .idempotentRetry: .confirmed
        case .outOfStock: .cancelled(reason: "out_of_stock")
        case .paymentFailure, .blocked: .cancelled(reason: "payment_failed")
        }
    }

    static func < (a: Scenario, b: Scenario) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// How an order's saga ended.
enum Outcome: Sendable, Hashable, Codable, CustomStringConvertible {
    case confirmed
    case cancelled(reason: String?)

    var description: String {
        switch self {
        case .confirmed: "CONFIRMED"
        case .cancelled(let reason): "CANCELLED \(reason ?? "(no reason)")"
        }
    }
}

/// Shares of the non-normal scenarios; the rest of the orders are normal.
struct ScenarioMix: Sendable, Codable, Equatable {
    var outOfStock = 0.05
    var paymentFailure = 0.05
    var blocked = 0.02
    var idempotentRetry = 0.05

    var shares: [(Scenario, Double)] {
        [(.outOfStock, outOfStock), (.paymentFailure, paymentFailure), (.blocked, blocked), (.idempotentRetry, idempotentRetry)]
    }

    /// The scenario for a uniform draw in [0, 1).
    func scenario(for draw: Double) -> Scenario {
        var bound = 0.0
        for (scenario, share) in shares {
            bound += share
            if draw < bound { return scenario }
        }
        return .normal
    }
}
