import Foundation
import Persistence

extension OutboxRelay {
    /// Deletes rows the broker acknowledged, fenced by the lease epoch they were published
    /// under (`OutboxStore.deletePublished`): a holder whose lease moved on (it stalled and
    /// another instance took over) deletes nothing, and the new holder publishes and deletes them.
    /// Off the publishing path: a slow delete holds no send back.
    func deleteLoop() async {
        var failures = 0
        var deletedSinceVacuum = 0
        while true {
            let (ids, epoch, finishing) = state.update { (Array($0.acknowledged), $0.epoch, $0.publishingEnded) }
            guard let epoch, !ids.isEmpty else {
                if finishing { return }
                await deleteSignal.wait(timeout: configuration.fallbackInterval)
                continue
            }
            do {
                let lease = self.lease
                let deleted = try await database.write { connection in
                    try OutboxStore.deletePublished(ids, epoch: epoch, lease: lease, on: connection)
                }
                failures = 0
                if deleted < ids.count {
                    // Fenced: another holder took the lease (or deleted the rows it published too).
                    logger.notice("deleted \(deleted) of \(ids.count) published outbox rows: the lease (epoch \(epoch)) moved on; the new holder publishes and deletes the rest")
                }
                state.update { $0.acknowledged.subtract(ids) }
                count { $0.deletedRows += deleted }
                wakeSignal.signal()
                deletedSinceVacuum += deleted
                let threshold = configuration.vacuumAfterDeletedRows
                if threshold > 0, deletedSinceVacuum >= threshold, !finishing {
                    deletedSinceVacuum = 0
                    await vacuumOutbox()
                }
            } catch {
                failures += 1
                logger.warning("cannot delete \(ids.count) published outbox rows (they stay hidden from this relay): \(error)")
                if finishing && failures >= 3 { return }
                try? await Task.sleep(for: configuration.retry.delay(attempt: failures))
            }
        }
    }

    /// A failed vacuum costs only scan time until the next one (or autovacuum): logged, not retried.
    private func vacuumOutbox() async {
        do {
            if try await database.vacuum(table: "outbox") { count { $0.vacuums += 1 } }
        } catch {
            logger.warning("cannot vacuum the outbox (scans walk the deleted rows until autovacuum comes): \(error)")
        }
    }
}
