/// A 5xx answer to POST /orders, on the wall clock (unix ms) the fault windows use.
struct ServerErrorAnswer: Sendable, Equatable {
    /// As the tracker records it, on the run's clock.
    struct Timed: Sendable, Equatable {
        var status: Int
        var issuedAt: Duration
        var answeredAt: Duration
        var detail: String
    }

    var status: Int
    var issuedAt: Int64
    var answeredAt: Int64
    var detail: String
}

/// The run's 5xx answers, split into those a fault explains and the rest. A 503 is the
/// service saying "not now, nothing applied" (a full disk, a database it cannot reach): a
/// fault window explains it when its request was in flight while the fault was on (from the
/// window's start to the end of its heal). Any other 5xx, and a 503 outside every window, is a
/// server failing, and fails the run.
struct ServerErrorReport: Sendable, Codable, Equatable {
    /// 503 answers explained, by the fault that explains them.
    var explained: [String: Int] = [:]
    /// 5xx answers no fault explains, by status.
    var unexplained: [String: Int] = [:]
    /// The first unexplained answers, each with its status and what the service said.
    var examples: [String] = []

    var explainedCount: Int { explained.values.reduce(0, +) }
    var unexplainedCount: Int { unexplained.values.reduce(0, +) }

    static let exampleLimit = 5

    static func judge(_ answers: [ServerErrorAnswer], windows: [FaultWindow]) -> ServerErrorReport {
        var report = ServerErrorReport()
        for answer in answers {
            let window = windows.first { $0.explains(answer) }
            if let window {
                report.explained[window.fault, default: 0] += 1
            } else {
                report.unexplained[String(answer.status), default: 0] += 1
                if report.examples.count < exampleLimit {
                    report.examples.append("\(answer.status) at \(answer.answeredAt) (no fault explains it): \(answer.detail)")
                }
            }
        }
        return report
    }
}

extension FaultWindow {
    /// A 503 whose request was in flight at some moment between the fault's start and the end of its heal.
    func explains(_ answer: ServerErrorAnswer) -> Bool {
        answer.status == 503 && answer.issuedAt <= recoveryStart && answer.answeredAt >= start
    }
}
