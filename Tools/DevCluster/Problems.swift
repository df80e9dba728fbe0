import SagaAPI

/// The dev cluster's own problem: librdkafka's mock cluster refused an operation.
extension Problem {
    static func mockFailed(_ detail: String) -> Problem {
        Problem(status: .internalServerError, title: "Mock Cluster Error", detail: detail)
    }
}
