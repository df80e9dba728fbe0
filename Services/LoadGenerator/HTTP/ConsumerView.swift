/// GET /consumer of a service instance: the partitions its group has offsets for in the
/// service's database (shared by all instances) and those assigned to this instance.
struct ConsumerView: Sendable, Codable, Equatable {
    struct Partition: Sendable, Codable, Equatable {
        var topic: String
        var partition: Int32
        /// -1 when nothing was processed.
        var lastProcessedOffset: Int64
        var assigned: Bool
        /// Why the consumer holds the partition back, when it does.
        var held: String?
    }

    var group: String
    var instance: String
    var topics: [String]
    var partitions: [Partition]
}

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
