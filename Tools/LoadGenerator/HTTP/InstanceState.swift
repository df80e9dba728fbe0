import SagaAPI

/// What one instance told the audit: its consumer and its metrics, or why it could not.
struct InstanceState: Sendable, Equatable {
    enum Consumer: Sendable, Equatable {
        case view(ConsumerView)
        /// GET /consumer answered 404: a service without the endpoint.
        case missing
        case failed(String)
    }

    var instance: ServiceInstance
    var consumer: Consumer
    /// nil when /metrics could not be read (then `metricsError` says why).
    var metrics: [PrometheusSample]?
    var metricsError: String?

    var view: ConsumerView? {
        if case .view(let view) = consumer { return view }
        return nil
    }
}
