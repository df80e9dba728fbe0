import Foundation
import Persistence

extension OutboxRelay {
    /// Rows waiting and the age of the oldest, for the lag gauges and readiness.
    func refreshStatistics() async {
        do {
            let backlog = try await database.oneStatement(readOnly: true) { try OutboxStore.backlog(on: $0) }
            let cutoff = WallClock.nowMicros() - 60_000_000
            let hidden = state.update { state -> Int in
                // Rows published by another instance never reach our acks.
                if !state.commitTimes.isEmpty { state.commitTimes = state.commitTimes.filter { $0.value > cutoff } }
                return state.acknowledged.count
            }
            let waiting = max(0, Int(backlog?.waiting ?? 0) - hidden)
            let age = waiting == 0 ? 0 : backlog?.oldestCreatedAtMicros.map { max(0, Double(WallClock.nowMicros() - $0) / 1e6) } ?? 0
            count { stats in
                stats.pendingRows = waiting
                stats.oldestAgeSeconds = age
            }
        } catch {
            logger.debug("cannot read outbox statistics: \(error)")
        }
    }

    /// Why the relay is not doing its job, for readiness; empty when it is (or stands by).
    public var problems: [String] {
        let stats = statistics
        guard stats.isLeader else { return [] }
        var problems: [String] = []
        if stats.unreachableSeconds >= configuration.unreachableBound.seconds {
            problems.append("the relay holds the lease but no broker acknowledged anything for \(Int(stats.unreachableSeconds)) s")
        }
        if stats.oldestAgeSeconds >= configuration.stallBound.seconds {
            problems.append("the oldest outbox row waits for \(Int(stats.oldestAgeSeconds)) s (\(stats.pendingRows) rows waiting)")
        }
        return problems
    }
}
