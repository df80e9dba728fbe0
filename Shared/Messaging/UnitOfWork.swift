import Credentials
import EventSchema
import Foundation
import Kafka
import Persistence

/// The messaging side of one local transaction: the events it emits go to the outbox in the
/// same transaction as the service's own changes (made through `connection`).
///
/// Synchronous and bound to one `SQLDatabase.write` body. Get one from `UnitOfWork.run(on:)`,
/// `SQLDatabase.unitOfWork(...)`, or as the argument of a `ConsumerRuntime` handler; all of
/// them write the buffered outbox rows before the transaction commits.
public final class UnitOfWork {
    /// The transaction's connection, for the service's own tables.
    public let connection: any SQLConnection
    /// Signs the events this unit emits, all with one signature (nil: unsigned; see
    /// `RelayConfiguration.signer`).
    private let signer: EventSigner?
    /// Events emitted and not yet written: their signature covers them all, made at `flush`.
    private var pending: [(event: EventSigner.Event, headers: [(name: String, value: [UInt8]?)])] = []
    /// Events emitted so far in this unit (dead letters included).
    public private(set) var emittedCount = 0
    /// Topics emitted to (dead letters excluded): the runtime prefetches their sequence rows.
    private(set) var emittedTopics: Set<String> = []
    /// Ids of the outbox rows written so far, for the relay's commit→ack figure.
    private(set) var outboxIds: [Int64] = []
    /// What runs once the transaction committed (see `afterCommit`).
    private(set) var commitActions: [@Sendable () -> Void] = []
    /// Rows queued by `insertAtEnd`, per statement in first-use order, written by `flush`.
    private var endRows: [(statement: MultiRowStatement, rows: [[SQLValue]])] = []
    /// The batch's new rows, held back (`insertNew`); nil: written at once. It is `connection`.
    private let newRows: NewRowQueue?
    /// The W3C context of the span this unit's work runs in (set by the runtime while tracing,
    /// see `MessageTracing`): what `emit` writes when not given a `traceparent` of its own, so
    /// the emitted event continues the trace from the span that decided it.
    public internal(set) var traceparent: String?

    struct SequenceKey: Hashable {
        let topic: String
        let orderId: String
    }

    /// Last sequence per (topic, order) whose row this transaction holds (locked on PostgreSQL;
    /// SQLite has a single writer): later emits for it need no statement.
    private var sequences: [SequenceKey: Int64] = [:]
    /// Sequences advanced in memory, written back by `flush`.
    private var dirtySequences: Set<SequenceKey> = []
    /// Sequence rows this transaction creates (`startSequences`), inserted by `flush`.
    private var newSequences: Set<SequenceKey> = []

    private struct PreloadKey: Hashable {
        let type: ObjectIdentifier
        let key: String
    }

    /// A preloaded row, or the absence of one.
    private struct Preloaded<Row> {
        let row: Row?
    }

    /// Rows the batch's prelude read for many events at once (`preload`), until a decision takes them.
    private var preloads: [PreloadKey: Any] = [:]

    /// - Parameter queuesNewRows: hold `insertNew`'s rows for one statement per table
    ///   (`NewRowQueue`); the consumer's batches do, and replay without it when that fails.
    init(connection: any SQLConnection, signer: EventSigner?, queuesNewRows: Bool = false) {
        let queue = queuesNewRows ? NewRowQueue(connection) : nil
        self.connection = queue ?? connection
        self.newRows = queue
        self.signer = signer
    }

    /// Runs `action` after this unit's transaction committed, in the order given, and never if it
    /// rolled back: what must not be seen before the rows it reports on are (a live stream's
    /// frame, a metric of deliveries). The runtime that commits the unit runs them.
    public func afterCommit(_ action: @escaping @Sendable () -> Void) {
        commitActions.append(action)
    }

    /// Queues `row` of `statement` for the end of the transaction, where the rows every event of
    /// the transaction queued on one statement are written together, a multi-row statement per
    /// chunk, pipelined: one statement where each event would otherwise make its own. For writes
    /// that nothing in the transaction reads back and that fail only when the database does (an
    /// append-only history, `ON CONFLICT DO NOTHING`): a failure surfaces at the end of the
    /// transaction and fails all of it, not the event that queued the row. Rolls back with the
    /// transaction like any other write.
    public func insertAtEnd(_ row: [SQLValue], with statement: MultiRowStatement) {
        // A unit queues on one statement or a few: a scan, no key to build per row.
        if let index = endRows.firstIndex(where: { $0.statement.hasText(of: statement) }) {
            endRows[index].rows.append(row)
        } else {
            endRows.append((statement, [row]))
        }
    }

    /// Inserts `row` of `statement` (an `INSERT … ON CONFLICT DO NOTHING` of one new row of
    /// `table`): false if the row was there already. The conditional write of a row a decision
    /// found absent. In a consumer's batch the row is queued and true returned at once; the
    /// batch's new rows of `table` are written in one statement before any statement that names
    /// `table`, or at the end, and the batch is replayed row by row if one of them was not new
    /// after all (`NewRowQueue`).
    public func insertNew(_ row: [SQLValue], with statement: MultiRowStatement, into table: String) throws -> Bool {
        if let newRows {
            newRows.queue(row, with: statement, into: table)
            return true
        }
        return try statement.execute([row], on: connection) == 1
    }

    /// Keeps `rows` of type `Row`, by key, for the first decision on each key in this transaction
    /// (`takePreloaded`); a key of `keys` without a row is kept as known to be absent. For a batch
    /// prelude that reads in one statement the rows its events' decisions would each read alone.
    ///
    /// Only for rows no other transaction can change until this one ends: rows it locked, or rows
    /// whose writers all take the same per-order lock first (the batch's sequence rows), or rows
    /// written only by a conditional write that rereads when it loses.
    public func preload<Row>(_ rows: [String: Row], for keys: some Sequence<String>) {
        for key in keys {
            preloads[PreloadKey(type: ObjectIdentifier(Row.self), key: key)] = Preloaded(row: rows[key])
        }
    }

    /// The row `preload` kept for `key`: `.some(nil)` when it found none there, nil when nothing
    /// was preloaded or a decision took it already. Taken once: the next decision on the key in
    /// this transaction reads the row again, and so sees what the first one wrote.
    public func takePreloaded<Row>(_ type: Row.Type, for key: String) -> Row?? {
        guard let kept = preloads.removeValue(forKey: PreloadKey(type: ObjectIdentifier(Row.self), key: key)) else { return nil }
        return .some((kept as! Preloaded<Row>).row)
    }

    /// Runs `body` with a unit of work on `connection` (inside your own `write` body) and writes
    /// the outbox rows afterwards, signed by `signer`. Wake the relay after the transaction committed.
    public static func run<T>(on connection: any SQLConnection, signer: EventSigner? = nil,
                              _ body: (UnitOfWork) throws -> T) throws -> T {
        let unit = UnitOfWork(connection: connection, signer: signer)
        let result = try body(unit)
        try unit.flush()
        // The caller commits, so nothing here could run them: such work needs `unitOfWork(waking:)`.
        precondition(unit.commitActions.isEmpty, "UnitOfWork.run(on:) cannot run afterCommit actions; use SQLDatabase.unitOfWork")
        return result
    }

    /// Emits `event` on its topic: takes the next `sequence` for (topic, order id), builds the
    /// envelope (causation, correlation and trace inherited from `cause`) and queues the outbox row.
    ///
    /// The sequence row is locked (PostgreSQL: row lock until commit; SQLite: one writer) before
    /// the outbox row gets its id, so of two transactions emitting for one order the second waits
    /// for the first to commit and gets both the higher sequence and the higher outbox id: outbox
    /// id order is sequence order per order, which is what the relay publishes by.
    ///
    /// Dead letters are the exception: they have no order among themselves, so they carry
    /// sequence 0 and take no sequence row (one row shared by every letter without an order would
    /// serialise all instances on it), and they are keyed by their order ID only when there is one.
    @discardableResult
    public func emit(_ event: SagaEvent, causedBy cause: EventCause? = nil, traceparent: String? = nil) throws -> EventEnvelope {
        let topic = event.topic.name
        let isDeadLetter = event.eventType == .deadLetter
        guard EventEnvelope.isValidOrderId(event.orderId) || (isDeadLetter && event.orderId.isEmpty) else {
            throw HandlerError.permanent("cannot emit \(event.eventType) with order ID \(event.orderId.debugDescription.prefix(100)): an order ID is 1 to \(EventEnvelope.maxOrderIdBytes) visible ASCII characters")
        }
        let sequence = isDeadLetter ? 0 : try nextSequence(topic: topic, orderId: event.orderId)
        let envelope = EventEnvelope(for: event, sequence: sequence, causedBy: cause, eventId: .timeOrdered(),
                                     traceparent: traceparent ?? self.traceparent)
        if !isDeadLetter { emittedTopics.insert(topic) }
        let headers = envelope.headers().map { (name: $0.name, value: Optional($0.value)) }
        pending.append((EventSigner.Event(topic: topic, key: event.orderId.isEmpty ? nil : envelope.key,
                                          payload: event.encodePayload(), envelope: envelope), headers))
        emittedCount += 1
        return envelope
    }

    /// Room a dead letter may take, below librdkafka's default `message.max.bytes` (1,000,000,
    /// which counts key, value and headers) with space for the envelope headers and the key.
    public static let deadLetterMaxBytes = 990_000

    /// Sends a consumed message to `deadletter.v1` (through the outbox, like any event) with its
    /// origin (topic, partition, offset), its key, headers and payload byte for byte, and `error`;
    /// cut to `maxBytes` (marked `truncated`, with the original's digest) when it would not fit
    /// in one Kafka message. `withoutRecord` keeps only the origin, the error and the digest: the
    /// last resort when writing the full letter failed.
    @discardableResult
    public func deadLetter(_ message: ConsumedMessage, error: String, kind: Saga_V1_DeadLetter.ErrorKind,
                           consumerGroup: String, causedBy cause: EventCause? = nil,
                           maxBytes: Int = UnitOfWork.deadLetterMaxBytes, withoutRecord: Bool = false) throws -> EventEnvelope {
        var letter = Saga_V1_DeadLetter(
            originTopic: message.topic, originPartition: message.partition, originOffset: message.offset,
            originTimestampUnixMs: message.timestampMs ?? 0, key: message.key,
            headers: message.headers.map { (name: $0.key, value: $0.value) }, payload: message.value,
            error: error, errorKind: kind, consumerGroup: consumerGroup)
        if withoutRecord {
            letter.clearKey()
            letter.originHeaders = []
            letter.clearPayload()
            letter.truncated = true
            letter.error += " (key, headers and payload left out: writing them failed)"
        }
        return try emit(.deadLetter(letter.fitted(maxBytes: maxBytes)), causedBy: cause)
    }

    /// Writes the rows queued by `insertAtEnd`, signs the queued events (one signature for all of
    /// them), writes their outbox rows (multi-row inserts, in emit order) and the sequences
    /// advanced in memory. Idempotent.
    func flush() throws {
        try newRows?.writeAll()
        for (statement, rows) in endRows { try statement.executePipelined(rows, on: connection) }
        endRows.removeAll()
        if !pending.isEmpty {
            let signatures = try signer?.signatureHeaders(pending.map(\.event)) ?? []
            // Stamped here, at the end of the transaction, so that the relay's latency figure is
            // close to commit→ack (it still includes the COMMIT itself).
            let writtenAt = WallClock.nowMicros()
            var rows: [OutboxStore.NewRow] = []
            rows.reserveCapacity(pending.count)
            for (index, item) in pending.enumerated() {
                var headers = item.headers
                if index < signatures.count { headers.append((signatures[index].name, signatures[index].value)) }
                rows.append(OutboxStore.NewRow(topic: item.event.topic, key: item.event.key,
                                               headers: HeaderCodec.encode(headers), payload: item.event.payload ?? []))
            }
            outboxIds += try OutboxStore.insert(rows, writtenAtMicros: writtenAt, on: connection)
            pending.removeAll(keepingCapacity: true)
        }
        if !dirtySequences.isEmpty {
            let sorted = dirtySequences.sorted { ($0.topic, $0.orderId) < ($1.topic, $1.orderId) }
            let created = sorted.filter { newSequences.contains($0) }
            if !created.isEmpty {
                try OutboxStore.insertSequences(created.map { ($0.topic, $0.orderId, sequences[$0]!) }, on: connection)
            }
            let advanced = sorted.filter { !newSequences.contains($0) }
            if !advanced.isEmpty {
                try OutboxStore.storeSequences(advanced.map { ($0.topic, $0.orderId, sequences[$0]!) }, on: connection)
            }
            dirtySequences.removeAll(keepingCapacity: true)
            newSequences.removeAll(keepingCapacity: true)
        }
    }

    /// Takes the next sequence for (topic, order): from memory if this transaction already holds
    /// the row, else with an upsert that locks the row (serialising concurrent emitters).
    private func nextSequence(topic: String, orderId: String) throws -> Int64 {
        let key = SequenceKey(topic: topic, orderId: orderId)
        if let last = sequences[key] {
            sequences[key] = last + 1
            dirtySequences.insert(key)
            return last + 1
        }
        let sequence = try OutboxStore.nextSequence(topic: topic, orderId: orderId, on: connection)
        sequences[key] = sequence
        return sequence
    }

    /// Takes the sequence rows of `orderIds` on `topics` for this transaction in one statement
    /// per chunk, so the batch's emits need none (the runtime calls it before the handlers).
    /// PostgreSQL: an upsert that locks the rows (creating missing ones at 0), in a fixed order
    /// so two batches cannot deadlock on them. SQLite: a plain read; its single writer already
    /// excludes every other emitter until commit.
    func prefetchSequences(topics: [String], orderIds: [String]) throws {
        guard !topics.isEmpty, !orderIds.isEmpty else { return }
        let orders = Array(Set(orderIds)).sorted()
        for topic in topics.sorted() {
            let found = try OutboxStore.takeSequences(topic: topic, orderIds: orders, on: connection)
            for order in orders {
                let key = SequenceKey(topic: topic, orderId: order)
                if sequences[key] == nil { sequences[key] = found[order] ?? 0 }
            }
        }
    }

    /// Declares `orderId` made by this transaction (an id it drew itself, so nothing can have
    /// emitted for it): its sequences on `topics` start at 0 in memory, with no statement, and
    /// their rows are inserted at the end of the transaction, pipelined. A plain insert: should a
    /// row be there after all, it fails the transaction instead of handing out a sequence twice.
    public func startSequences(of orderId: String, on topics: [String]) {
        for topic in topics {
            let key = SequenceKey(topic: topic, orderId: orderId)
            precondition(sequences[key] == nil, "startSequences(of:) after a sequence of \(orderId) on \(topic) was taken")
            sequences[key] = 0
            newSequences.insert(key)
        }
    }

    /// Takes the sequence rows of `orderIds` on `topics` (sorted, created if missing) for this
    /// transaction before anything else of these orders is touched: the per-order lock every
    /// writer takes first, in one order, as the consumer's batches do (PostgreSQL; SQLite has a
    /// single writer). For writers outside the consumer, such as a deadline sweeper.
    public func lockOrders(_ orderIds: [String], on topics: [String]) throws {
        try prefetchSequences(topics: topics, orderIds: orderIds)
    }
}

extension SQLDatabase {
    /// One transaction with a unit of work: `body` changes the service's tables through
    /// `unit.connection` and emits events; the outbox rows commit with them, signed with the
    /// relay's signer, then `relay` is woken.
    ///
    /// While tracing (`MessageTracing`), inside a span (an HTTP request's), the transaction is a
    /// `db.transaction` span of its own and the events it emits are its children.
    public func unitOfWork<T: Sendable>(waking relay: OutboxRelay? = nil,
                                        _ body: @escaping @Sendable (UnitOfWork) throws -> T) async throws -> T {
        let span = MessageTracing.isEnabled ? MessageTracing.transactionSpan(dialect) : nil
        let traceparent = span.flatMap { MessageTracing.traceparent(of: $0.context) }
        let written: (result: T, outboxIds: [Int64], actions: [@Sendable () -> Void])
        do {
            written = try await write { connection in
                let unit = UnitOfWork(connection: connection, signer: relay?.configuration.signer)
                unit.traceparent = traceparent
                let result = try body(unit)
                try unit.flush()
                return (result, unit.outboxIds, unit.commitActions)
            }
        } catch {
            span?.failed(error)
            throw error
        }
        span?.end()
        for action in written.actions { action() }
        if !written.outboxIds.isEmpty { relay?.committed(written.outboxIds) }
        return written.result
    }
}
