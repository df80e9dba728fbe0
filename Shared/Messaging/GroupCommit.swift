import Foundation
import Locking
import Metrics
import Persistence

/// Units of work of independent callers (the HTTP edge's POSTs) that arrive while one is being
/// written share the next transaction: one BEGIN and one COMMIT (on PostgreSQL one WAL flush,
/// on SQLite one turn of the single writer) for all of them. A caller that finds nothing in
/// flight is written at once, alone: grouping adds no wait, it only uses the wait there is.
///
/// Each caller's body still sees a transaction of its own in every way that matters: its
/// result or error is its own. If any body of a group throws, or the group's transaction
/// fails, the group rolls back and each body runs again in a transaction of its own, so one
/// caller's conflict never fails another's write. A body may therefore run more than once,
/// and must not act outside the database (the unit's `afterCommit` is the place for that).
public final class GroupCommit: Sendable {
    private struct Member: Sendable {
        let body: @Sendable (UnitOfWork) throws -> any Sendable
        let done: @Sendable (Result<any Sendable, any Error>) -> Void
    }

    private struct State {
        var waiting: [Member] = []
        var writing = false
    }

    private let database: any SQLDatabase
    private let relay: OutboxRelay?
    /// The most bodies in one transaction: bounds how long the first of them waits for the rest.
    public let maxGroup: Int
    private let state = Protected(State())
    private let groupSize: Recorder

    public init(database: any SQLDatabase, relay: OutboxRelay?, maxGroup: Int = 64, name: String) {
        self.database = database
        self.relay = relay
        self.maxGroup = max(1, maxGroup)
        groupSize = Recorder(label: "messaging_group_commit_size", dimensions: [("writer", name)])
    }

    /// Bodies waiting for the transaction in flight to end.
    var waitingCount: Int { state.update { $0.waiting.count } }

    /// Runs `body` in a unit of work, alone or with the bodies that arrived meanwhile, and
    /// returns once its transaction committed (its `afterCommit` actions have run by then).
    public func write<T: Sendable>(_ body: @escaping @Sendable (UnitOfWork) throws -> T) async throws -> T {
        let result = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<any Sendable, any Error>) in
            let member = Member(body: { try body($0) }, done: { continuation.resume(with: $0) })
            let lead = state.update { state -> Bool in
                state.waiting.append(member)
                guard !state.writing else { return false }
                state.writing = true
                return true
            }
            if lead { Task { await self.drain() } }
        }
        return result as! T  // the member's body returned a T
    }

    /// Writes groups until nobody waits.
    private func drain() async {
        while true {
            let group = state.update { state -> [Member] in
                let taken = Array(state.waiting.prefix(maxGroup))
                state.waiting.removeFirst(taken.count)
                if taken.isEmpty { state.writing = false }
                return taken
            }
            guard !group.isEmpty else { return }
            groupSize.record(group.count)
            await write(group)
        }
    }

    private func write(_ group: [Member]) async {
        if group.count > 1 {
            do {
                let results = try await database.unitOfWork(waking: relay) { unit in try group.map { try $0.body(unit) } }
                for (member, result) in zip(group, results) { member.done(.success(result)) }
                return
            } catch {
                // Someone's body or the transaction failed: each on its own, for its own outcome.
            }
        }
        for member in group {
            do {
                member.done(.success(try await database.unitOfWork(waking: relay, member.body)))
            } catch {
                member.done(.failure(error))
            }
        }
    }
}
