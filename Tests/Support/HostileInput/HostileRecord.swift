import EventSchema
import Foundation
import Kafka
import PropertyBased

/// A record nobody should be able to break a consumer with: a valid event of the topic, then
/// at least one change that makes it invalid (a hostile order-id, a broken or repeated envelope
/// header, a wrong key or partition, a garbage or missing payload, an unknown event type) and
/// up to two more changes of any kind (random extra headers of any length and bytes, …).
///
/// Every such record must end, for every consumer group reading the topic, as a dead letter
/// or as a skip its counters show (an event type the group does not handle or does not know);
/// never handled, never retried forever. `mutations` says what was done, for failure messages.
public struct HostileRecord: Sendable, CustomStringConvertible {
    public var topic: String
    /// Where to produce it: the key's home partition unless a mutation moved it.
    public var partition: Int32
    public var key: [UInt8]?
    public var headers: [KafkaHeader]
    public var payload: [UInt8]?
    public var mutations: [String]
    /// The partition of the order-id the record was built for: a shift never lands there again.
    var keyPartition: Int32

    public var outgoing: OutgoingMessage {
        OutgoingMessage(topic: topic, key: key, value: payload, headers: headers, partition: partition)
    }

    public var size: Int {
        (key?.count ?? 0) + (payload?.count ?? 0) + headers.reduce(0) { $0 + $1.key.utf8.count + ($1.value?.count ?? 0) }
    }

    public var description: String {
        "\(topic)[\(partition)] \(size) bytes: \(mutations.joined(separator: "; "))"
    }

    /// Records for `topic` (a topic of the saga), for a cluster with `partitionCount` partitions.
    /// `maxRecordBytes` bounds key + headers + payload (stay below the producer's message.max.bytes).
    public static func generator(topic: String, partitionCount: Int32 = Int32(TopicCatalog.defaultPartitions),
                                 maxRecordBytes: Int = 900_000) -> Generator<HostileRecord, Shrink.None<HostileRecord>> {
        let types = EventType.types(onTopic: topic)
        precondition(!types.isEmpty, "\(topic) is not a saga topic")
        return Generator { rng in
            let type = types.randomElement(using: &rng)!
            let ids = (rng.next() as UInt64, rng.next() as UInt64)
            var mutations = [Mutation.invalidating(maxBytes: maxRecordBytes, using: &rng)]
            for _ in 0..<Int.random(in: 0...2, using: &rng) { mutations.append(Mutation.any(maxBytes: maxRecordBytes, using: &rng)) }
            return build(topic: topic, type: type, ids: [ids.0, ids.1], mutations: mutations, partitionCount: partitionCount,
                         maxRecordBytes: maxRecordBytes)
        }
    }

    // MARK: - building

    private static func build(topic: String, type: EventType, ids: [UInt64], mutations: [Mutation],
                              partitionCount: Int32, maxRecordBytes: Int) -> HostileRecord {
        let orderId = "hostile-\(String(ids[0], radix: 36))"
        let event = sample(type, orderId: orderId)
        let envelope = EventEnvelope(for: event, sequence: 1, eventId: UUID(uuid: uuid(ids[0], ids[1])))
        var record = HostileRecord(
            topic: topic, partition: Murmur2Partitioner.partition(forKey: orderId, partitionCount: partitionCount),
            key: envelope.key, headers: envelope.headers().map { KafkaHeader(key: $0.name, value: $0.value) },
            payload: event.encodePayload(), mutations: [],
            keyPartition: Murmur2Partitioner.partition(forKey: orderId, partitionCount: partitionCount))
        for mutation in mutations { mutation.apply(to: &record, partitionCount: partitionCount) }
        // Keep it producible: cut the payload, then extra header values, to the bound.
        while record.size > maxRecordBytes {
            if let payload = record.payload, !payload.isEmpty {
                record.payload = Array(payload.prefix(max(0, payload.count - (record.size - maxRecordBytes))))
            } else if let index = record.headers.indices.max(by: { (record.headers[$0].value?.count ?? 0) < (record.headers[$1].value?.count ?? 0) }),
                      let value = record.headers[index].value, !value.isEmpty {
                record.headers[index].value = Array(value.prefix(max(0, value.count - (record.size - maxRecordBytes))))
            } else {
                record.key = record.key.map { Array($0.prefix(16)) }
                break
            }
        }
        return record
    }

    private static func uuid(_ high: UInt64, _ low: UInt64) -> uuid_t {
        var value: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &value) { bytes in
            bytes.storeBytes(of: high, toByteOffset: 0, as: UInt64.self)
            bytes.storeBytes(of: low, toByteOffset: 8, as: UInt64.self)
        }
        return value
    }

    /// A valid event of `type` for `orderId`, with the fields handlers look at set.
    static func sample(_ type: EventType, orderId: String) -> SagaEvent {
        let money = Saga_V1_Money(minorUnits: 1250, currency: "EUR")
        let line = Saga_V1_OrderLine(sku: "SKU-0001", quantity: 1, unitPrice: money)
        switch type {
        case .orderPlaced: return .orderPlaced(.with { $0.orderID = orderId; $0.customerID = "C-00001"; $0.lines = [line]; $0.total = money })
        case .orderConfirmed: return .orderConfirmed(.with { $0.orderID = orderId; $0.customerID = "C-00001"; $0.total = money })
        case .orderCancelled: return .orderCancelled(.with { $0.orderID = orderId; $0.customerID = "C-00001"; $0.reason = .timeout })
        case .stockReserved: return .stockReserved(.with { $0.orderID = orderId; $0.customerID = "C-00001"; $0.lines = [line]; $0.amount = money })
        case .stockRejected: return .stockRejected(.with { $0.orderID = orderId; $0.customerID = "C-00001"; $0.reason = .outOfStock })
        case .stockReleased: return .stockReleased(.with { $0.orderID = orderId; $0.customerID = "C-00001"; $0.lines = [line] })
        case .paymentCharged: return .paymentCharged(.with { $0.orderID = orderId; $0.customerID = "C-00001"; $0.amount = money })
        case .paymentFailed: return .paymentFailed(.with { $0.orderID = orderId; $0.customerID = "C-00001"; $0.reason = .insufficientFunds })
        case .paymentRefunded: return .paymentRefunded(.with { $0.orderID = orderId; $0.customerID = "C-00001"; $0.amount = money })
        case .notificationSent: return .notificationSent(.with { $0.orderID = orderId; $0.customerID = "C-00001"; $0.kind = .orderConfirmed })
        case .deadLetter: return .deadLetter(.with { $0.orderID = orderId })
        }
    }
}

/// One change to a record.
enum Mutation: Sendable {
    /// Replaces (or, with nil, removes) every occurrence of an envelope header.
    case header(String, [UInt8]?, why: String)
    /// Adds a second occurrence of an envelope header with another value.
    case repeated(String, [UInt8], why: String)
    case extraHeaders([KafkaHeader])
    case payload([UInt8]?, why: String)
    case key([UInt8]?, why: String)
    /// Moves the record to another partition than its key's (by 1...count-1).
    case partitionShift(Int32)
    /// A valid event type of another topic.
    case foreignType(EventType)

    typealias H = EventEnvelope.Header

    func apply(to record: inout HostileRecord, partitionCount: Int32) {
        switch self {
        case let .header(name, value, why):
            record.headers.removeAll { $0.key == name }
            if let value { record.headers.append(KafkaHeader(key: name, value: value)) }
            record.mutations.append("\(name): \(why)")
        case let .repeated(name, value, why):
            record.headers.append(KafkaHeader(key: name, value: value))
            record.mutations.append("\(name) repeated: \(why)")
        case let .extraHeaders(headers):
            record.headers += headers
            record.mutations.append("\(headers.count) extra headers (\(headers.reduce(0) { $0 + ($1.value?.count ?? 0) }) value bytes)")
        case let .payload(payload, why):
            record.payload = payload
            record.mutations.append("payload: \(why)")
        case let .key(key, why):
            // A key equal to the order ID would be no change at all.
            record.key = key == record.key ? (key ?? []) + [0x21] : key
            record.mutations.append("key: \(why)")
        case let .partitionShift(shift):
            // From the key's partition, not the current one: a second shift must not move it home.
            record.partition = (record.keyPartition + 1 + shift % max(1, partitionCount - 1)) % partitionCount
            record.mutations.append("produced to partition \(record.partition), not its key's")
        case let .foreignType(drawn):
            // A type of this very topic would be no change: take one of another topic.
            let type = drawn.topic.name != record.topic ? drawn : EventType.allCases.first { $0.topic.name != record.topic }!
            record.headers.removeAll { $0.key == H.eventType }
            record.headers.append(KafkaHeader(key: H.eventType, text: type.rawValue))
            record.mutations.append("event-type \(type) of \(type.topic.name)")
        }
    }

    /// A change of which any one makes the record invalid for every consumer.
    static func invalidating(maxBytes: Int, using rng: inout some RandomNumberGenerator) -> Mutation {
        switch Int.random(in: 0..<17, using: &rng) {
        // The order-id: too long (up to far past the B-tree limits of real databases), not plain,
        // empty, binary.
        case 0:
            let value = Bytes.printable(Int.random(in: (EventEnvelope.maxOrderIdBytes + 1)...12_000, using: &rng), using: &rng)
            return .header(H.orderId, value, why: "\(value.count) printable bytes")
        case 1:
            let value = Bytes.any(Int.random(in: 1...300, using: &rng), using: &rng)
            return .header(H.orderId, value, why: "\(value.count) random bytes")
        case 2:
            let text = ["ord 1", "ord\u{0}1", "ord\n", "ordé", "", "\u{7F}"].randomElement(using: &rng)!
            return .header(H.orderId, Array(text.utf8), why: "not plain ASCII: \(text.debugDescription)")
        // Envelope headers missing, or with values they cannot have.
        case 3:
            return .header([H.eventId, H.correlationId].randomElement(using: &rng)!, nil, why: "missing")
        case 4:
            let name = [H.eventId, H.correlationId, H.schemaVersion, H.sequence, H.producedAt].randomElement(using: &rng)!
            var value = Bytes.any(Int.random(in: 0...64, using: &rng), using: &rng)
            if name != H.eventId && name != H.correlationId { value.append(0x41) }  // never all digits
            return .header(name, value, why: "\(value.count) random bytes")
        case 5:
            let text = ["0", "2", "99999999999999999999", "-1", "1.0", " 1"].randomElement(using: &rng)!
            return .header(H.schemaVersion, Array(text.utf8), why: "schema-version \(text)")
        case 6:
            let text = ["-1", "99999999999999999999", "0x10", "1e3"].randomElement(using: &rng)!
            return .header(H.sequence, Array(text.utf8), why: "sequence \(text)")
        case 7:
            let name = [H.eventId, H.orderId, H.correlationId, H.eventType].randomElement(using: &rng)!
            return .repeated(name, Bytes.text(Int.random(in: 1...40, using: &rng), using: &rng), why: "a second, different value")
        // Event types this code does not know, or that belong on another topic.
        case 8:
            let value = Bytes.text(Int.random(in: 1...40, using: &rng), using: &rng)
            return .header(H.eventType, value, why: "unknown type \(String(decoding: value, as: UTF8.self).debugDescription)")
        case 9:
            return .foreignType(EventType.allCases.randomElement(using: &rng)!)
        // Payloads that are not the event: garbage of any size up to the bound, none.
        case 10:
            let value = Bytes.any(Int.random(in: 0...4_000, using: &rng), using: &rng)
            return .payload(value, why: "\(value.count) random bytes")
        case 11:
            let count = Int.random(in: min(100_000, maxBytes / 2)...maxBytes, using: &rng)
            return .payload(Bytes.filler(count, seed: rng.next()), why: "\(count) filler bytes")
        case 12:
            return .payload(nil, why: "null")
        // Keys and partitions that do not match the order-id.
        case 13:
            let value = Bytes.any(Int.random(in: 0...2_000, using: &rng), using: &rng)
            return .key(value, why: "\(value.count) random bytes")
        case 14:
            return .key(nil, why: "null")
        case 15:
            return .partitionShift(Int32.random(in: 0...10, using: &rng))
        default:
            let value = Bytes.any(Int.random(in: 1...64, using: &rng), using: &rng)
            return .header(H.eventType, value, why: "\(value.count) random bytes as the type")
        }
    }

    /// Any change, harmless ones included.
    static func any(maxBytes: Int, using rng: inout some RandomNumberGenerator) -> Mutation {
        switch Int.random(in: 0..<4, using: &rng) {
        case 0: return invalidating(maxBytes: maxBytes, using: &rng)
        case 1:
            let value = Bytes.any(Int.random(in: 0...120, using: &rng), using: &rng)
            return .header(H.traceparent, value, why: "\(value.count) random bytes (dropped: not W3C)")
        default:
            return .extraHeaders((0..<Int.random(in: 1...6, using: &rng)).map { _ in
                let value: [UInt8]? = Int.random(in: 0..<10, using: &rng) == 0 ? nil
                    : Bytes.any(Int.random(in: 0...(Int.random(in: 0..<8, using: &rng) == 0 ? 60_000 : 300), using: &rng), using: &rng)
                return KafkaHeader(key: Bytes.headerName(using: &rng), value: value)
            })
        }
    }
}

/// Byte generators.
enum Bytes {
    static func any(_ count: Int, using rng: inout some RandomNumberGenerator) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
    }

    static func printable(_ count: Int, using rng: inout some RandomNumberGenerator) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0x21...0x7E, using: &rng) }
    }

    /// Text of letters, digits, punctuation and spaces.
    static func text(_ count: Int, using rng: inout some RandomNumberGenerator) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0x20...0x7E, using: &rng) }
    }

    /// A header name: any Unicode text without NUL (librdkafka's names are C strings), mostly
    /// short, sometimes hundreds of scalars.
    static func headerName(using rng: inout some RandomNumberGenerator) -> String {
        var name = String.UnicodeScalarView()
        let length = Int.random(in: 0..<5, using: &rng) == 0 ? Int.random(in: 1...300, using: &rng) : Int.random(in: 1...20, using: &rng)
        while name.count < length {
            let value = Int.random(in: 0..<3, using: &rng) == 0 ? UInt32.random(in: 1...0x10FFFF, using: &rng) : UInt32.random(in: 0x21...0x7E, using: &rng)
            if let scalar = Unicode.Scalar(value) { name.append(scalar) }
        }
        return String(name)
    }

    /// `count` bytes cheaply: big payloads need not be random byte by byte to test size handling.
    static func filler(_ count: Int, seed: UInt64) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: (UInt64($0) &+ seed) &* 2_654_435_761 >> 13) }
    }
}
