import EventSchema
import Logging
import Messaging
import Metrics
import NotificationCore
import Persistence
import ServiceKit
import ServiceLifecycle
import SagaAPI

/// Delivers PENDING notifications through the channel and records each delivery: the row
/// turns SENT and NotificationSent goes to the outbox, in one transaction.
///
/// Delivery is at-least-once towards the channel: a crash (or a failed commit) after the
/// channel took a notification and before the SENT row committed leaves it PENDING, and it is
/// delivered again later. Receivers dedupe on the notification id (the webhook sends it as
/// `Idempotency-Key`). NotificationSent, on the other hand, is emitted exactly once per
/// notification: only by the conditional PENDING → SENT update that matched the row.
struct DeliveryWorker: Sendable {
    let database: any SQLDatabase
    let relay: OutboxRelay
    let channel: any NotificationChannel
    let delivered: DeliveredNotifications
    let logger: Logger
    /// Rows read per round; a full round means more may be due, and the caller goes again.
    let batchSize = 200
    /// Backoff of a row whose delivery failed (the channel already retried briefly): capped, so
    /// a receiver that comes back gets its backlog within a minute, and never given up.
    let failureBackoff = RetryPolicy(initialDelay: .seconds(1), maximumDelay: .seconds(60))
    private let failures: Counter

    init(database: any SQLDatabase, relay: OutboxRelay, channel: any NotificationChannel,
         delivered: DeliveredNotifications, logger: Logger) {
        self.database = database
        self.relay = relay
        self.channel = channel
        self.delivered = delivered
        self.logger = logger
        failures = Counter(label: "notifications_delivery_failures_total", dimensions: [("channel", channel.kind.rawValue)])
    }

    /// Rows claimed and delivered before their outcome is committed: few enough that a crash
    /// re-delivers little and the claim stays short, enough to keep the channel busy.
    private var chunkSize: Int { max(channel.concurrency, 32) }

    /// How long a claim keeps other workers off a row: the chunk's worst-case delivery time.
    private var claimDuration: Duration {
        let waves = (chunkSize + channel.concurrency - 1) / max(channel.concurrency, 1)
        return channel.maximumDeliveryTime * waves + .seconds(2)
    }

    /// One round over the rows due now, oldest first; returns how many it found.
    @discardableResult
    func deliverDue() async throws -> Int {
        let limit = batchSize
        // Due times, claims and retries are on the database's clock: a worker whose wall clock is
        // off must neither steal another's claim nor sit out its own backlog.
        let due = try await database.read { try NotificationStore.due(now: try $0.databaseTimeMillis(), limit: limit, on: $0) }
        var start = 0
        // On shutdown, the chunk in hand finishes and is recorded; the rest waits for the next start.
        while start < due.count, !Task.isCancelled, !Task.isShuttingDownGracefully {
            let chunk = Array(due[start..<min(start + chunkSize, due.count)])
            start += chunk.count
            try await deliver(chunk)
        }
        return due.count
    }

    private enum Outcome: Sendable {
        case delivered(at: Int64)
        case failed(String)
    }

    private func deliver(_ chunk: [StoredNotification]) async throws {
        let claimFor = claimDuration.milliseconds
        let claimed = try await database.write { connection in
            let until = try connection.databaseTimeMillis() + claimFor
            return try chunk.filter { try NotificationStore.claim($0, until: until, on: connection) }
        }
        guard !claimed.isEmpty else { return }
        let outcomes = await deliverConcurrently(claimed)
        let kind = channel.kind
        let backoff = failureBackoff
        let sent = try await database.unitOfWork(waking: relay) { unit -> [StoredNotification] in
            var sent: [StoredNotification] = []
            for (row, outcome) in zip(claimed, outcomes) {
                switch outcome {
                case .delivered(let at):
                    // Continues the saga of the event it answers; while tracing, under a span of
                    // its own in that event's trace.
                    let span = MessageTracing.span("notification sent", continuing: row.cause?.traceparent,
                                                   attributes: ["saga.order_id": row.record.orderId, "notification.channel": kind.rawValue])
                    defer { span?.end() }
                    let cause = row.cause?.continuing(span.flatMap(MessageTracing.traceparent(of:)))
                    // The claimed row is the first decision's state; a lost race reads it again.
                    guard case .applied(let transition, _) = try TransitionWriter.write(
                        DeliveredStep(notification: row, channel: kind, at: at), causedBy: cause, preloaded: row, unit: unit) else {
                        continue  // another worker recorded it first: its NotificationSent is the one
                    }
                    var done = row
                    done.record = transition.record
                    done.channel = kind
                    done.state = .sent
                    done.sentAtUnixMs = at
                    done.attempts += 1
                    done.lastError = nil
                    sent.append(done)
                case .failed(let error):
                    let retryAt = try unit.connection.databaseTimeMillis() + backoff.delay(attempt: Int(row.attempts) + 1).milliseconds
                    try NotificationStore.markFailed(row.record.notificationId, error: error, retryAt: retryAt, on: unit.connection)
                }
            }
            return sent
        }
        var deliveries = 0
        for (row, outcome) in zip(claimed, outcomes) {
            switch outcome {
            case .delivered: deliveries += 1
            case .failed(let error):
                failures.increment()
                logger.warning("notification delivery failed; will retry", metadata: [
                    "notification-id": "\(row.record.notificationId)", "order-id": "\(row.record.orderId)",
                    "attempts": "\(row.attempts + 1)", "error": "\(error)"])
            }
        }
        delivered.committed(deliveries: deliveries, sent: sent)
    }

    /// Delivers `rows` with at most `channel.concurrency` in flight; outcomes in `rows` order.
    private func deliverConcurrently(_ rows: [StoredNotification]) async -> [Outcome] {
        let channel = channel
        return await withTaskGroup(of: (Int, Outcome).self) { group in
            var outcomes = [Outcome](repeating: .failed("not attempted"), count: rows.count)
            var next = 0
            func start() {
                let index = next
                let record = rows[index].record
                next += 1
                group.addTask {
                    do {
                        try await channel.deliver(record)
                        return (index, .delivered(at: EventEnvelope.nowUnixMs()))
                    } catch {
                        return (index, .failed("\(error)"))
                    }
                }
            }
            while next < min(channel.concurrency, rows.count) { start() }
            while let (index, outcome) = await group.next() {
                outcomes[index] = outcome
                if next < rows.count { start() }
            }
            return outcomes
        }
    }
}

extension Duration {
    /// Whole milliseconds, for the `*_ms` columns.
    var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
