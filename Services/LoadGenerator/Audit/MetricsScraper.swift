/// Scrapes each service's /metrics for the duplicate and dead-letter counters. A service that
/// does not answer is noted in the result rather than failing the audit.
struct MetricsScraper: Sendable {
    let http: ServiceHTTPClient
    let urls: ServiceURLs

    func scrape() async -> DuplicateMetrics {
        await withTaskGroup(of: DuplicateMetrics.Service.self) { group in
            for (name, url) in urls.all {
                group.addTask {
                    do {
                        let text = try await http.getText(url + "/metrics")
                        return DuplicateMetrics.service(name, samples: PrometheusText.parse(text))
                    } catch {
                        return DuplicateMetrics.Service(service: name, error: "\(error)")
                    }
                }
            }
            var services: [DuplicateMetrics.Service] = []
            for await service in group { services.append(service) }
            let order = urls.all.map(\.name)
            return DuplicateMetrics(services: services.sorted { order.firstIndex(of: $0.service)! < order.firstIndex(of: $1.service)! })
        }
    }
}
