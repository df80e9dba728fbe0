import Foundation

/// What `ConsumerRuntime.report()` gives readiness and `GET /consumer`.
public struct ConsumerReport: Sendable {
    public struct Partition: Sendable, Codable, Equatable {
        public let topic: String
        public let partition: Int32
        public let lastProcessedOffset: Int64
        /// The log end as of the last fetch (nil before the first one).
        public let logEnd: Int64?
        public let lag: Int64?
        public let held: String?
        /// Lag without progress for longer than the stall bound.
        public let stalled: Bool
    }

    public let group: String
    /// The assigned partitions.
    public let partitions: [Partition]
    /// Why the consumer is not ready; empty when it is.
    public let problems: [String]
}

extension ConsumerRuntime {
    /// What the runtime knows about its partitions and whether it is healthy.
    public func report(now: ContinuousClock.Instant = .now) -> ConsumerReport {
        let (book, consumer, phase, batchSince) = state.update { ($0.book, $0.consumer, $0.phase, $0.batchSince) }
        let bound = configuration.stallBound
        let rows = book.report(now: now, stallBound: bound) { consumer?.cachedWatermarks($0) }
        var problems: [String] = []
        if phase != .running || rows.isEmpty {
            problems.append("the consumer holds no partitions yet (joining its group, or Kafka unreachable)")
        }
        if let stall = processor.stall.current(now: now) {
            problems.append("a batch has failed for \(stall.failingFor.formattedSeconds) (\(stall.attempts) attempts): \(stall.reason)")
        } else if let batchSince, now - batchSince >= bound {
            problems.append("a batch has been in hand for \((now - batchSince).formattedSeconds) without committing (a handler or its transaction hangs)")
        }
        for row in rows {
            if let held = row.held { problems.append("\(row.topic)[\(row.partition)] is held: \(held)") }
            if row.stalled {
                problems.append("\(row.topic)[\(row.partition)] has lag \(row.lag ?? 0) and made no progress for more than \(bound.formattedSeconds)")
            }
        }
        return ConsumerReport(group: configuration.groupID, partitions: rows, problems: problems)
    }
}

extension Duration {
    var formattedSeconds: String {
        let seconds = Double(components.seconds) + Double(components.attoseconds) / 1e18
        return seconds < 10 ? String(format: "%.1f s", seconds) : "\(Int(seconds.rounded())) s"
    }
}
