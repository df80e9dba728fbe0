import Foundation
import Logging
import Persistence

/// Retention of a consumer group's bookkeeping: inbox rows older than `inboxRetention`, and
/// the sequence rows of orders that emitted nothing within `sequenceRetention`. Deletes in
/// chunks (short transactions) and reports what it deleted through `count`.
struct InboxPruner: Sendable {
    static let chunk = 5000

    let configuration: ConsumerConfiguration
    let database: any SQLDatabase
    let logger: Logger
    /// Adds the pruned rows to the runtime's statistics.
    let count: @Sendable (_ inboxRows: Int, _ sequenceRows: Int) -> Void

    /// Prunes every `inboxPruneInterval` until cancelled.
    func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.inboxPruneInterval)
            if Task.isCancelled { return }
            do {
                _ = try await pruneInbox()
                _ = try await pruneSequences()
            } catch {
                logger.warning("pruning failed: \(error)")
            }
        }
    }

    func pruneInbox() async throws -> Int {
        let group = configuration.groupID
        let cutoff = WallClock.nowMillis() - configuration.inboxRetention.milliseconds
        let total = try await pruneInChunks { connection in
            try InboxStore.prune(group: group, receivedBefore: cutoff, limit: Self.chunk, on: connection)
        }
        if total > 0 {
            count(total, 0)
            logger.info("pruned \(total) inbox rows")
        }
        return total
    }

    func pruneSequences() async throws -> Int {
        let cutoff = WallClock.nowMillis() - configuration.sequenceRetention.milliseconds
        let total = try await pruneInChunks { connection in
            try OutboxStore.pruneSequences(updatedBefore: cutoff, limit: Self.chunk, on: connection)
        }
        if total > 0 {
            count(0, total)
            logger.info("pruned \(total) outbox sequence rows")
        }
        return total
    }

    private func pruneInChunks(_ chunk: @escaping @Sendable (any SQLConnection) throws -> Int) async throws -> Int {
        var total = 0
        while true {
            let deleted = try await database.write(chunk)
            total += deleted
            if deleted < Self.chunk { return total }
        }
    }
}
