import Histogram

/// Latencies in microseconds (3 significant digits), reported in milliseconds.
struct LatencyHistogram: Sendable {
    private var histogram = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)

    init() {
        histogram.autoResize = true // a latency past an hour still counts rather than vanishing
    }

    mutating func record(_ latency: Duration) {
        histogram.record(UInt64(max(0, latency.seconds * 1_000_000).rounded()))
    }

    var count: UInt64 { histogram.totalCount }

    var summary: LatencySummary {
        func ms(_ micros: UInt64) -> Double { Double(micros) / 1000 }
        guard count > 0 else { return LatencySummary(count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0) }
        return LatencySummary(
            count: Int(count),
            p50: ms(histogram.valueAtPercentile(50)), p90: ms(histogram.valueAtPercentile(90)),
            p99: ms(histogram.valueAtPercentile(99)), p999: ms(histogram.valueAtPercentile(99.9)),
            max: ms(histogram.max))
    }
}

/// Percentiles in milliseconds.
struct LatencySummary: Sendable, Codable, Equatable {
    var count: Int
    var p50: Double
    var p90: Double
    var p99: Double
    var p999: Double
    var max: Double
}

/// The latencies a run measures. All but `acceptedToConfirmed` count from the intended send time.
struct RunLatencies: Sendable {
    var accepted = LatencyHistogram()
    var confirmed = LatencyHistogram()
    var cancelled = LatencyHistogram()
    var acceptedToConfirmed = LatencyHistogram()
    var notified = LatencyHistogram()

    var report: LatencyReport {
        LatencyReport(accepted: accepted.summary, confirmed: confirmed.summary, cancelled: cancelled.summary,
                      acceptedToConfirmed: acceptedToConfirmed.summary, notified: notified.summary)
    }
}

/// The run's latencies as reported (text and JSON).
struct LatencyReport: Sendable, Codable, Equatable {
    /// Intended send time → HTTP 202.
    var accepted: LatencySummary
    /// Intended send time → OrderConfirmed seen on orders.v1.
    var confirmed: LatencySummary
    /// Intended send time → OrderCancelled seen on orders.v1.
    var cancelled: LatencySummary
    /// HTTP 202 → OrderConfirmed: the saga alone, without the request.
    var acceptedToConfirmed: LatencySummary
    /// Intended send time → NotificationSent seen on notifications.v1.
    var notified: LatencySummary

    var rows: [(label: String, summary: LatencySummary)] {
        [("accepted (202)", accepted), ("confirmed", confirmed), ("cancelled", cancelled),
         ("accepted→confirmed", acceptedToConfirmed), ("notified", notified)]
    }
}
