import Crypto
import Foundation

extension Saga_V1_DeadLetter {
    /// A dead letter for a consumed message, keeping key, headers and payload byte
    /// for byte (null stays null) so it can be replayed. `orderID` is taken from the
    /// `order-id` header, else from the key, when it is a valid order ID
    /// (`EventEnvelope.isValidOrderId`), else left empty: a hostile value stays in the
    /// payload's bytes and never becomes the dead letter's key or envelope.
    public init(
        originTopic: String,
        originPartition: Int32,
        originOffset: Int64,
        originTimestampUnixMs: Int64 = 0,
        key: [UInt8]?,
        headers: some Sequence<(name: String, value: [UInt8]?)>,
        payload: [UInt8]?,
        error: String,
        errorKind: ErrorKind,
        consumerGroup: String,
        failedAtUnixMs: Int64 = EventEnvelope.nowUnixMs()
    ) {
        self.init()
        self.originTopic = originTopic
        self.originPartition = originPartition
        self.originOffset = originOffset
        self.originTimestampUnixMs = originTimestampUnixMs
        if let key { self.key = Data(key) }
        var orderFromHeader: String?
        for (name, value) in headers {
            var header = Header()
            header.name = name
            if let value { header.value = Data(value) }
            originHeaders.append(header)
            if name == EventEnvelope.Header.orderId, let value, EventEnvelope.isValidOrderId(value) {
                orderFromHeader = String(decoding: value, as: UTF8.self)
            }
        }
        if let payload { self.payload = Data(payload) }
        self.error = error
        self.errorKind = errorKind
        self.consumerGroup = consumerGroup
        self.failedAtUnixMs = failedAtUnixMs
        let orderFromKey = key.flatMap { EventEnvelope.isValidOrderId($0) ? String(decoding: $0, as: UTF8.self) : nil }
        orderID = orderFromHeader ?? orderFromKey ?? ""
        originalSize = Int64((key?.count ?? 0) + (payload?.count ?? 0))
            + originHeaders.reduce(0) { $0 + Int64($1.name.utf8.count + $1.value.count) }
        originalSha256 = Data(SHA256.hash(data: payload ?? []))
    }

    /// The encoded size of this dead letter.
    public var encodedSize: Int { ((try? serializedBytes()) as [UInt8]?)?.count ?? Int.max }

    /// This dead letter cut to at most `maxBytes` encoded: the payload first, then header values
    /// (largest first), then the key, each kept as a prefix, then whole headers from the end;
    /// `truncated` marks the cut. Unchanged when it already fits. Kafka refuses a record above
    /// its maximum message size, and a dead letter wraps a whole record (which may itself be
    /// near that size) in more fields.
    public func fitted(maxBytes: Int) -> Saga_V1_DeadLetter {
        guard encodedSize > maxBytes else { return self }
        var letter = self
        letter.truncated = true
        // Cutting `excess` bytes off a field shrinks the encoding by at least that much (its
        // length prefix can only get shorter), so one cut per field is enough when it is long enough.
        func shrink(_ data: Data) -> Data? {
            let excess = letter.encodedSize - maxBytes
            guard excess > 0, !data.isEmpty else { return nil }
            return data.prefix(max(0, data.count - excess))
        }
        if letter.hasPayload, let cut = shrink(letter.payload) { letter.payload = cut }
        let bySize = letter.originHeaders.indices.sorted { letter.originHeaders[$0].value.count > letter.originHeaders[$1].value.count }
        for index in bySize {
            guard let cut = shrink(letter.originHeaders[index].value) else { continue }
            letter.originHeaders[index].value = cut
        }
        if letter.hasKey, let cut = shrink(letter.key) { letter.key = cut }
        while letter.encodedSize > maxBytes, !letter.originHeaders.isEmpty {
            letter.originHeaders.removeLast()
        }
        return letter
    }

    /// The original headers in Kafka's shape, e.g. to replay the message.
    public var originalHeaders: [(name: String, value: [UInt8]?)] {
        originHeaders.map { (name: $0.name, value: $0.hasValue ? [UInt8]($0.value) : nil) }
    }
}

/// How a replayed dead letter is told apart from the event it carries.
///
/// `kafka-tool deadletters replay` republishes the original record to its origin with one more
/// header, `replay-of`: the dead letter's own event-id. The consumer's inbox then records the
/// pair (event, dead letter) instead of the event alone: the original's id is in the inbox
/// already (it was dead-lettered there), so the replay is processed; replaying the same dead
/// letter again gives the same pair, so it is processed once. A replay that fails again makes a
/// new dead letter, whose replay is a new pair.
public enum ReplayMarker {
    public static let header = "replay-of"

    /// The inbox id of `eventId` replayed from dead letter `replayOf`: the first 16 bytes of
    /// SHA-256(event-id ‖ dead-letter id), as a UUID (never equal to either, in practice).
    public static func inboxId(eventId: UUID, replayOf: UUID) -> UUID {
        var input = [UInt8]()
        input.reserveCapacity(32)
        withUnsafeBytes(of: eventId.uuid) { input.append(contentsOf: $0) }
        withUnsafeBytes(of: replayOf.uuid) { input.append(contentsOf: $0) }
        let digest = Array(SHA256.hash(data: input).prefix(16))
        return digest.withUnsafeBytes { UUID(uuid: $0.loadUnaligned(as: uuid_t.self)) }
    }

    /// The `replay-of` value of a record's headers (the last one, as Kafka tools read them),
    /// when it is a UUID.
    public static func replayOf(_ headers: some Sequence<(name: String, value: [UInt8]?)>) -> UUID? {
        var found: [UInt8]?
        for (name, value) in headers where name == header { found = value }
        guard let found, found.count == 36, let text = String(validating: found, as: UTF8.self) else { return nil }
        return UUID(uuidString: text)
    }
}
