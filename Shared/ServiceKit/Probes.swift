import Foundation
import Hummingbird
import Messaging
import Persistence
import SagaAPI

/// `/healthz` (the process answers), `/readyz` (it can do its job) and `GET /consumer` (where
/// its consumer stands, partition by partition).
///
/// Ready means all of: the database answers within `databaseTimeout`; the consumer holds
/// partitions of its group, no batch has been failing for longer than the stall bound, no
/// assigned partition is held (offset anomaly) or has lag without progress for longer than the
/// stall bound; and, when this instance's relay holds the lease, a broker acknowledged its sends
/// within the relay's unreachable bound and its oldest waiting row is younger than the stall
/// bound. A 503 is a problem body whose `errors[]` names each failed check.
struct Probes {
    let database: any SQLDatabase
    let runtime: ConsumerRuntime
    let relay: OutboxRelay
    let instance: String
    var databaseTimeout: Duration = .seconds(2)

    func add(to routes: EdgeRoutes) {
        routes.getOpen("/healthz") { _, _, _ in try JSONResponse.make(Health()) }
        // Open, for orchestrators; the reasons (which may name hosts or errors) only for staff.
        routes.getOpen("/readyz") { _, _, caller in
            var problems: [Problem.FieldError] = []
            let databaseState = await checkDatabase()
            if case .failure(let why) = databaseState { problems.append(.init(pointer: "/database", detail: why.detail)) }
            let consumer = runtime.report()
            problems += consumer.problems.map { .init(pointer: "/consumer", detail: $0) }
            problems += relay.problems.map { .init(pointer: "/relay", detail: $0) }
            guard problems.isEmpty else {
                guard let caller, caller.principal.readsEverything else {
                    let failed = Array(Set(problems.map(\.pointer))).sorted()
                    throw Problem(status: 503, title: "Service Unavailable",
                                  detail: "not ready: " + failed.map { $0.dropFirst() }.joined(separator: ", "),
                                  errors: failed.map { .init(pointer: $0, detail: "not ready (an operator token shows why)") })
                }
                throw Problem(status: 503, title: "Service Unavailable",
                              detail: "not ready: " + problems.map(\.detail).joined(separator: "; "), errors: problems)
            }
            let relayStats = relay.statistics
            let offset = (try? databaseState.get()) ?? 0
            return try JSONResponse.make(Readiness(
                status: "ready", database: "ok", assignedPartitions: consumer.partitions.count,
                outboxPending: relayStats.pendingRows, relayLeader: relayStats.isLeader, wallClockOffsetMs: offset))
        }
        routes.get("/consumer", .staff) { _, _, _ in
            let group = runtime.configuration.groupID
            let stored = try await StoredOffsets.load(group: group, from: database)
            let report = runtime.report()
            var rows: [TopicPartitionKey: ConsumerView.Partition] = [:]
            for (partition, offset) in stored {
                rows[TopicPartitionKey(partition.topic, partition.partition)] = ConsumerView.Partition(
                    topic: partition.topic, partition: partition.partition, lastProcessedOffset: offset, assigned: false)
            }
            for assigned in report.partitions {
                let key = TopicPartitionKey(assigned.topic, assigned.partition)
                let storedOffset = rows[key]?.lastProcessedOffset ?? -1
                rows[key] = ConsumerView.Partition(
                    topic: assigned.topic, partition: assigned.partition,
                    lastProcessedOffset: max(storedOffset, assigned.lastProcessedOffset), assigned: true,
                    logEnd: assigned.logEnd, lag: assigned.lag, held: assigned.held)
            }
            return try JSONResponse.make(ConsumerView(
                group: group, instance: instance, topics: runtime.configuration.topics,
                partitions: rows.values.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) },
                problems: report.problems, unauthenticated: runtime.statistics.unauthenticated,
                signatureChecks: runtime.configuration.authenticator?.signatureVerifications,
                signaturesMade: relay.configuration.signer?.signaturesMade))
        }
    }

    private static func wallMillis() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }

    private struct TopicPartitionKey: Hashable {
        let topic: String
        let partition: Int32
        init(_ topic: String, _ partition: Int32) {
            self.topic = topic
            self.partition = partition
        }
    }

    struct DatabaseProblem: Error {
        let detail: String
    }

    /// The wall clock's offset from the database's clock when the database answered in time,
    /// else what went wrong. A database that hangs (stopped, cut off) must not hang the probe
    /// with it: the query is not awaited past the timeout (a transaction cannot be cancelled
    /// once submitted; it finishes on its own).
    private func checkDatabase() async -> Result<Int64, DatabaseProblem> {
        let database = database
        let timeout = databaseTimeout
        let answer = FirstAnswer<Result<Int64, DatabaseProblem>>()
        return await withCheckedContinuation { continuation in
            answer.set(continuation)
            Task {
                do {
                    let before = Self.wallMillis()
                    let databaseNow = try await database.read { try $0.databaseTimeMillis() }
                    let after = Self.wallMillis()
                    answer.resume(.success((before + after) / 2 - databaseNow))
                } catch {
                    answer.resume(.failure(DatabaseProblem(detail: "\(error)")))
                }
            }
            Task {
                try? await Task.sleep(for: timeout)
                answer.resume(.failure(DatabaseProblem(detail: "the database did not answer within \(timeout)")))
            }
        }
    }
}

/// A continuation resumed by whichever of several racers answers first.
private final class FirstAnswer<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, Never>?

    func set(_ continuation: CheckedContinuation<T, Never>) {
        lock.withLock { self.continuation = continuation }
    }

    func resume(_ value: T) {
        let waiting = lock.withLock { () -> CheckedContinuation<T, Never>? in
            defer { continuation = nil }
            return continuation
        }
        waiting?.resume(returning: value)
    }
}
