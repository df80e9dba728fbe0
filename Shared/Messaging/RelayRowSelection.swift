import EventSchema
import Kafka

/// An outbox row on its way to the broker.
struct RelayRow: Sendable, Equatable {
    let id: Int64
    let createdAtMicros: Int64
    let message: OutgoingMessage

    /// What per-key order is kept for: the topic and key; a dead letter is a key of its own.
    enum Key: Hashable, Sendable {
        case ordered(topic: String, key: [UInt8]?)
        case unordered(Int64)
    }

    var key: Key {
        message.topic == TopicCatalog.deadLetters.name ? .unordered(id) : .ordered(topic: message.topic, key: message.key)
    }

    /// A row is its outbox id: the table never holds two versions of one.
    static func == (lhs: RelayRow, rhs: RelayRow) -> Bool { lhs.id == rhs.id }
}

/// What one scan of the outbox picks, row by row in id order: the oldest row of each key that
/// has nothing in flight, unless the key is blocked by a failure and its backoff is not over.
/// Rows it must pass over do not stop the scan, up to `scanLimit` rows. Pure: the relay reads
/// the pages and offers their rows.
struct RowSelection {
    let batchSize: Int
    let scanLimit: Int
    /// Acknowledged rows not deleted yet, and rows in flight: neither is sent again.
    let hidden: Set<Int64>
    let inFlight: Set<Int64>
    let blocked: [RelayRow.Key: RelayStateMachine.Blocked]
    let now: ContinuousClock.Instant
    /// Keys that already have a row in flight or selected.
    private var taken: Set<RelayRow.Key>
    private var scanned = 0

    private(set) var rows: [RelayRow] = []
    private(set) var earliestRetry: ContinuousClock.Instant?
    /// Keys with a row passed over because an earlier row of the key is in flight, selected or backing off.
    private(set) var passedOver = Set<RelayRow.Key>()
    /// The scan ended at `batchSize` or `scanLimit`, not at the end of the outbox.
    private(set) var stoppedEarly = false

    init(batchSize: Int, scanLimit: Int, hidden: Set<Int64>, inFlight: [Int64: RelayRow.Key],
         blocked: [RelayRow.Key: RelayStateMachine.Blocked], now: ContinuousClock.Instant) {
        self.batchSize = batchSize
        self.scanLimit = scanLimit
        self.hidden = hidden
        self.inFlight = Set(inFlight.keys)
        self.blocked = blocked
        self.now = now
        taken = Set(inFlight.values)
    }

    /// Whether the row with this id can be sent at all; the others are not even decoded.
    func considers(_ id: Int64) -> Bool {
        !hidden.contains(id) && !inFlight.contains(id)
    }

    /// Offers the next row in id order; false once the batch is full.
    mutating func offer(_ row: RelayRow) -> Bool {
        let key = row.key
        guard taken.insert(key).inserted else {
            passedOver.insert(key)
            return true
        }
        if let blocked = blocked[key], blocked.retryAt > now {
            earliestRetry = min(earliestRetry ?? blocked.retryAt, blocked.retryAt)
            return true
        }
        rows.append(row)
        return rows.count < batchSize
    }

    /// After a page of `count` rows (`pageSize` were asked for): whether to read the next one.
    mutating func pageRead(_ count: Int, of pageSize: Int) -> Bool {
        scanned += count
        if count < pageSize { return false }
        if rows.count >= batchSize || scanned >= scanLimit {
            stoppedEarly = true
            return false
        }
        return true
    }
}
