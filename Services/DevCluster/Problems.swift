import DevClusterAPI

/// The problem responses the control API sends.
extension DevClusterProblem {
    static func badRequest(_ detail: String) -> Self { .init(status: 400, title: "Bad Request", detail: detail) }
    static func notFound(_ detail: String) -> Self { .init(status: 404, title: "Not Found", detail: detail) }
    static func conflict(_ detail: String) -> Self { .init(status: 409, title: "Conflict", detail: detail) }
    static func unavailable(_ detail: String) -> Self { .init(status: 503, title: "Service Unavailable", detail: detail) }
    static func mockFailed(_ detail: String) -> Self { .init(status: 500, title: "Mock Cluster Error", detail: detail) }
}
