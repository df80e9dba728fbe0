import Foundation
import Persistence

/// Deleting acknowledged rows, fenced by the lease epoch they were published under
/// (`OutboxStore.deletePublished`): a holder whose lease moved on (it stalled and another
/// instance took over) deletes nothing, and the new holder publishes and deletes them.
///
/// Two paths, one claim: the next scan deletes what was acknowledged in its own statement
/// (`RelayConfiguration.deleteDelay`), and the deleter, off the publishing path, deletes what no
/// scan took within that delay. A row is claimed by one delete at a time; a failed delete gives
/// its rows back, and they stay hidden from scans until a delete gets through.
extension OutboxRelay {
    /// Claims the acknowledged rows no delete holds yet, with the epoch they were published under.
    func claimDeletion() -> RelayStateMachine.Deletion? {
        state.update { state in
            guard let epoch = state.epoch else { return nil }
            let ids = state.acknowledged.subtracting(state.deleting)
            guard !ids.isEmpty else { return nil }
            state.deleting.formUnion(ids)
            return RelayStateMachine.Deletion(ids: Array(ids), epoch: epoch)
        }
    }

    /// Runs a claimed delete, with the scan page it rides on if any (one statement on
    /// PostgreSQL, one transaction on SQLite), and records how it ended: deleted rows leave
    /// `acknowledged`, a failed delete gives its rows back to be claimed again.
    func delete(_ deletion: RelayStateMachine.Deletion,
                scanningAfter page: (after: Int64, limit: Int)? = nil) async throws -> [OutboxStore.ScannedRow] {
        let lease = self.lease
        let deleted: Int
        let rows: [OutboxStore.ScannedRow]
        do {
            (deleted, rows) = try await database.oneStatement(readOnly: false) { connection in
                try OutboxStore.deletePublished(deletion.ids, epoch: deletion.epoch, lease: lease, thenScanning: page, on: connection)
            }
        } catch {
            state.update { $0.deleting.subtract(deletion.ids) }
            // The deleter retries what a scan failed to delete.
            if page != nil { deleteSignal.signal() }
            throw error
        }
        let threshold = configuration.vacuumAfterDeletedRows
        let vacuumDue = state.update { state -> Bool in
            state.deleting.subtract(deletion.ids)
            state.acknowledged.subtract(deletion.ids)
            state.deletedSinceVacuum += deleted
            return threshold > 0 && state.deletedSinceVacuum >= threshold
        }
        if deleted < deletion.ids.count {
            // Fenced: another holder took the lease (or deleted the rows it published too).
            logger.notice("deleted \(deleted) of \(deletion.ids.count) published outbox rows: the lease (epoch \(deletion.epoch)) moved on; the new holder publishes and deletes the rest")
        }
        count { stats in
            stats.deletedRows += deleted
            if page != nil { stats.deletedInScans += deleted }
        }
        if page == nil {
            // The publishing loop may be waiting for the deletes to catch up.
            wakeSignal.signal()
        } else if vacuumDue {
            // The deleter vacuums, off the publishing path.
            deleteSignal.signal()
        }
        return rows
    }

    /// Deletes what no scan took within the delete delay. Off the publishing path: a slow delete
    /// holds no send back. On shutdown (the publishing loop has ended) it deletes what is left at once.
    func deleteLoop() async {
        var failures = 0
        while true {
            let (waiting, finishing, deletedSinceVacuum) = state.update { state in
                (state.epoch != nil && !state.acknowledged.isSubset(of: state.deleting), state.publishingEnded, state.deletedSinceVacuum)
            }
            let threshold = configuration.vacuumAfterDeletedRows
            if threshold > 0, deletedSinceVacuum >= threshold, !finishing {
                state.update { $0.deletedSinceVacuum = 0 }
                await vacuumOutbox()
            }
            guard waiting else {
                if finishing { return }
                await deleteSignal.wait(timeout: configuration.fallbackInterval)
                continue
            }
            // Leave the next scan the chance to take these along (a shutdown ends the wait).
            if deleteDelay > .zero && !finishing {
                let deadline = ContinuousClock.now + deleteDelay
                while ContinuousClock.now < deadline && !state.value.publishingEnded {
                    await deleteSignal.wait(timeout: deadline - .now)
                }
            }
            guard let deletion = claimDeletion() else { continue }
            do {
                _ = try await delete(deletion)
                failures = 0
            } catch {
                failures += 1
                logger.warning("cannot delete \(deletion.ids.count) published outbox rows (they stay hidden from this relay): \(error)")
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
