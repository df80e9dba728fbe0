/// Duplicates the services' consumers absorbed and messages they gave up on, from their
/// /metrics: evidence that redeliveries happened and were handled, not a verdict.
struct DuplicateMetrics: Sendable, Codable, Equatable {
    struct Service: Sendable, Codable, Equatable {
        var service: String
        var skippedOffset: Double = 0
        var skippedInbox: Double = 0
        var deadLettered: Double = 0
        /// Why the scrape failed, if it did.
        var error: String? = nil
    }

    var services: [Service] = []

    var skippedOffset: Double { services.reduce(0) { $0 + $1.skippedOffset } }
    var skippedInbox: Double { services.reduce(0) { $0 + $1.skippedInbox } }
    var deadLettered: Double { services.reduce(0) { $0 + $1.deadLettered } }

    /// One row per instance, from the metrics the audit read with its snapshot.
    init(_ instances: [InstanceState]) {
        services = instances.map { state in
            guard let samples = state.metrics else {
                return Service(service: state.instance.name, error: state.metricsError ?? "not read")
            }
            return Self.service(state.instance.name, samples: samples)
        }
    }

    init(services: [Service] = []) {
        self.services = services
    }

    /// Sums `messaging_skipped_total` by reason and `messaging_dead_lettered_total` over all
    /// label sets of one service's scrape.
    static func service(_ name: String, samples: [PrometheusSample]) -> Service {
        var result = Service(service: name)
        for sample in samples {
            switch sample.name {
            case "messaging_skipped_total":
                if sample.labels["reason"] == "offset" { result.skippedOffset += sample.value }
                if sample.labels["reason"] == "inbox" { result.skippedInbox += sample.value }
            case "messaging_dead_lettered_total":
                result.deadLettered += sample.value
            default:
                break
            }
        }
        return result
    }
}
