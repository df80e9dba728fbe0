import Testing
@testable import LoadGenerator

@Suite("Prometheus text")
struct PrometheusTextTests {
    static let scrape = #"""
    # HELP messaging_skipped_total Messages skipped as duplicates.
    # TYPE messaging_skipped_total counter
    messaging_skipped_total{group="inventory",reason="offset"} 12
    messaging_skipped_total{group="inventory", reason="inbox"} 3 1700000000000
    messaging_skipped_total{group="inventory",reason="unknown_type"} 5
    messaging_dead_lettered_total{group="inventory",kind="undecodable"} 1
    messaging_dead_lettered_total{group="inventory",kind="rejected"} 2e0
    saga_outcomes_total{outcome="cancelled",reason="out_of_stock"} 7
    weird{detail="a \"quoted\" \\ back\nslash"} +Inf
    process_start_time_seconds 1.7e9
    broken{label="never closed} 1
    also broken
    """#

    @Test("samples with labels, escapes, timestamps and special values")
    func parses() {
        let samples = PrometheusText.parse(Self.scrape)
        #expect(samples.count == 8)
        #expect(samples[1] == PrometheusSample(name: "messaging_skipped_total", labels: ["group": "inventory", "reason": "inbox"], value: 3))
        #expect(samples[6].labels["detail"] == "a \"quoted\" \\ back\nslash")
        #expect(samples[6].value == .infinity)
        #expect(samples[7] == PrometheusSample(name: "process_start_time_seconds", labels: [:], value: 1.7e9))
    }

    @Test("duplicate and dead-letter counters are summed per service")
    func duplicates() {
        let service = DuplicateMetrics.service("inventory", samples: PrometheusText.parse(Self.scrape))
        #expect(service == DuplicateMetrics.Service(service: "inventory", skippedOffset: 12, skippedInbox: 3, deadLettered: 3))
        let all = DuplicateMetrics(services: [service, .init(service: "order", skippedOffset: 1), .init(service: "payment", error: "down")])
        #expect(all.skippedOffset == 13 && all.skippedInbox == 3 && all.deadLettered == 3)
    }
}
