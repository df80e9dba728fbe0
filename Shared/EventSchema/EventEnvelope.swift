import Foundation

/// The metadata of an event, carried in Kafka headers so a consumer can route,
/// de-duplicate or skip a message without decoding its payload.
///
/// Every header value is UTF-8 text (kcat and other tools show it as is):
///
/// | header | value |
/// |---|---|
/// | `event-id` | UUID, lower-case canonical form (upper case accepted) |
/// | `event-type` | ``EventType`` raw value, e.g. `OrderPlaced` |
/// | `schema-version` | decimal integer ≥ 1 |
/// | `order-id` | the order ID (also the message key): 1 to 128 visible ASCII characters (`!` to `~`); empty only for `DeadLetter` of an unknown order |
/// | `sequence` | decimal integer ≥ 0, strictly increasing per topic and order |
/// | `causation-id` | UUID of the event that caused this one; absent for a saga's first event |
/// | `correlation-id` | UUID shared by every event of one saga |
/// | `traceparent` | W3C trace context; optional |
/// | `produced-at` | decimal Unix time in milliseconds (UTC) when the event was created, i.e. written to the outbox |
///
/// Decoding rules: header names are case-sensitive; headers not listed above are
/// ignored; a header repeated with the same value is accepted, repeated with a
/// different value is ``EventDecodingError/duplicateHeader(name:values:)`` (the
/// envelope must not be ambiguous). Numbers are plain ASCII digits, no sign, no
/// spaces. An empty or null `causation-id` is treated as absent. A `traceparent`
/// that is not valid W3C is dropped (W3C: a vendor must restart the trace rather
/// than reject the request), never an error.
public struct EventEnvelope: Sendable, Hashable {
    public var eventId: UUID
    public var eventType: EventType
    public var schemaVersion: Int
    public var orderId: String
    public var sequence: Int64
    public var causationId: UUID?
    public var correlationId: UUID
    public var traceparent: String?
    /// Unix time in milliseconds, UTC. An integer so the header is exact and
    /// language-neutral; see ``producedAt`` for a `Date`.
    public var producedAtUnixMs: Int64

    /// Header names, exactly as on the wire.
    public enum Header {
        public static let eventId = "event-id"
        public static let eventType = "event-type"
        public static let schemaVersion = "schema-version"
        public static let orderId = "order-id"
        public static let sequence = "sequence"
        public static let causationId = "causation-id"
        public static let correlationId = "correlation-id"
        public static let traceparent = "traceparent"
        public static let producedAt = "produced-at"

        /// All envelope headers, in the order ``EventEnvelope/headers()`` writes them.
        public static let all: [String] = [
            eventId, eventType, schemaVersion, orderId, sequence,
            causationId, correlationId, traceparent, producedAt,
        ]
    }

    public init(
        eventId: UUID = UUID(),
        eventType: EventType,
        schemaVersion: Int? = nil,
        orderId: String,
        sequence: Int64,
        causationId: UUID? = nil,
        correlationId: UUID,
        traceparent: String? = nil,
        producedAtUnixMs: Int64 = EventEnvelope.nowUnixMs()
    ) {
        self.eventId = eventId
        self.eventType = eventType
        self.schemaVersion = schemaVersion ?? eventType.schemaVersion
        self.orderId = orderId
        self.sequence = sequence
        self.causationId = causationId
        self.correlationId = correlationId
        self.traceparent = traceparent
        self.producedAtUnixMs = producedAtUnixMs
    }

    /// The envelope for a new event, type and order ID taken from the event.
    ///
    /// With a `cause` (e.g. the event being handled), causation-id is the cause's
    /// event-id and correlation-id and traceparent are inherited from it; pass
    /// `traceparent` to continue the trace from your own span instead. Without a
    /// correlation id to inherit (a saga's first event), correlation-id is the new event's ID.
    public init(
        for event: SagaEvent,
        sequence: Int64,
        causedBy cause: EventCause? = nil,
        eventId: UUID = UUID(),
        traceparent: String? = nil,
        producedAtUnixMs: Int64 = EventEnvelope.nowUnixMs()
    ) {
        self.init(
            eventId: eventId,
            eventType: event.eventType,
            orderId: event.orderId,
            sequence: sequence,
            causationId: cause?.eventId,
            correlationId: cause?.correlationId ?? eventId,
            traceparent: traceparent ?? cause?.traceparent,
            producedAtUnixMs: producedAtUnixMs
        )
    }

    public static func nowUnixMs() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }

    public var producedAt: Date {
        Date(timeIntervalSince1970: Double(producedAtUnixMs) / 1000)
    }

    /// The Kafka message key: the order ID's UTF-8 bytes (co-partitioning, design §2).
    public var key: [UInt8] { Array(orderId.utf8) }

    /// The envelope as Kafka headers, UTF-8 text values, optional ones omitted when nil.
    public func headers() -> [(name: String, value: [UInt8])] {
        var result: [(name: String, value: [UInt8])] = [
            (Header.eventId, Self.text(eventId)),
            (Header.eventType, Array(eventType.rawValue.utf8)),
            (Header.schemaVersion, Array(String(schemaVersion).utf8)),
            (Header.orderId, Array(orderId.utf8)),
            (Header.sequence, Array(String(sequence).utf8)),
        ]
        if let causationId {
            result.append((Header.causationId, Self.text(causationId)))
        }
        result.append((Header.correlationId, Self.text(correlationId)))
        if let traceparent {
            result.append((Header.traceparent, Array(traceparent.utf8)))
        }
        result.append((Header.producedAt, Array(String(producedAtUnixMs).utf8)))
        return result
    }

    /// Reads the envelope from a Kafka message's headers (null values allowed, as
    /// Kafka has them). See the type's documentation for the rules.
    public init(headers: some Sequence<(name: String, value: [UInt8]?)>) throws(EventDecodingError) {
        var found = FoundHeaders()
        for (name, value) in headers { try found.add(name, value) }
        try self.init(found)
    }

    /// Convenience for headers without null values (e.g. the output of ``headers()``).
    public init(headers: some Sequence<(name: String, value: [UInt8])>) throws(EventDecodingError) {
        var found = FoundHeaders()
        for (name, value) in headers { try found.add(name, value) }
        try self.init(found)
    }

    /// The envelope headers of one message, one slot per header (indexed like
    /// Header.all): .none = absent, .some(nil) = present with a null value.
    private struct FoundHeaders {
        var slots = [[UInt8]??](repeating: .none, count: Header.all.count)

        mutating func add(_ name: String, _ value: [UInt8]?) throws(EventDecodingError) {
            guard let slot = EventEnvelope.slot(of: name) else { return }
            if case let .some(previous) = slots[slot], previous != value {
                throw .duplicateHeader(name: name, values: [HeaderText.render(previous), HeaderText.render(value)])
            }
            slots[slot] = .some(value)
        }

        subscript(slot: Int) -> [UInt8]?? { slots[slot] }
    }

    private init(_ found: FoundHeaders) throws(EventDecodingError) {
        func required(_ slot: Int) throws(EventDecodingError) -> [UInt8]? {
            guard case let .some(value) = found[slot] else { throw .missingHeader(name: Header.all[slot]) }
            return value
        }

        // Event type first: a consumer skipping unknown types must get that error
        // even if the rest of a newer producer's envelope looks different.
        let typeBytes = try required(1)
        if let typeBytes, let known = EventType(utf8: typeBytes) {
            eventType = known
        } else {
            let typeText = try Self.utf8(typeBytes, header: Header.eventType, expected: "an event type name")
            throw .unknownEventType(typeText)
        }

        eventId = try Self.uuid(required(0), header: Header.eventId)

        let version = try Self.decimal(required(2), header: Header.schemaVersion)
        guard version >= 1, version <= Int64(Int32.max) else {
            throw .malformedHeader(name: Header.schemaVersion, value: "\"\(version)\"", expected: "an integer from 1 to 2147483647")
        }
        schemaVersion = Int(version)

        // The order ID reaches indexed columns (inbox, sequences, the services' primary keys)
        // and becomes the key of every event the consumer emits: bounded and plain, checked here
        // before any of that.
        let orderBytes = try required(3)
        if let orderBytes, orderBytes.isEmpty, eventType == .deadLetter {
            orderId = ""
        } else {
            guard let orderBytes, Self.isValidOrderId(orderBytes) else {
                throw .malformedHeader(name: Header.orderId, value: HeaderText.render(orderBytes), expected: Self.orderIdExpectation)
            }
            orderId = String(decoding: orderBytes, as: UTF8.self)
        }

        sequence = try Self.decimal(required(4), header: Header.sequence)
        correlationId = try Self.uuid(required(6), header: Header.correlationId)
        producedAtUnixMs = try Self.decimal(required(8), header: Header.producedAt)

        switch found[5] {
        case .none, .some(.none), .some(.some([])):
            causationId = nil
        case let .some(.some(bytes)):
            causationId = try Self.uuid(bytes, header: Header.causationId)
        }

        if case let .some(.some(bytes)) = found[7], Self.isValidTraceparent(bytes) {
            traceparent = String(decoding: bytes, as: UTF8.self)
        } else {
            traceparent = nil
        }
    }

    /// The longest order ID the envelope accepts, in bytes.
    public static let maxOrderIdBytes = 128
    static let orderIdExpectation = "an order ID of 1 to \(maxOrderIdBytes) visible ASCII characters"

    /// Whether `bytes` is an order ID the envelope accepts: 1 to `maxOrderIdBytes` bytes, each a
    /// visible ASCII character (no space, control character or non-ASCII byte).
    public static func isValidOrderId(_ bytes: some Collection<UInt8>) -> Bool {
        !bytes.isEmpty && bytes.count <= maxOrderIdBytes && bytes.allSatisfy { (0x21...0x7E).contains($0) }
    }

    public static func isValidOrderId(_ text: String) -> Bool { isValidOrderId(text.utf8) }

    /// Index in Header.all, nil for a header that is not part of the envelope.
    private static func slot(of name: String) -> Int? {
        switch name {
        case Header.eventId: 0
        case Header.eventType: 1
        case Header.schemaVersion: 2
        case Header.orderId: 3
        case Header.sequence: 4
        case Header.causationId: 5
        case Header.correlationId: 6
        case Header.traceparent: 7
        case Header.producedAt: 8
        default: nil
        }
    }

    /// Whether `value` is a W3C `traceparent` (trace-context level 1, future versions
    /// parsed by their version-00 prefix as the spec asks).
    public static func isValidTraceparent(_ value: String) -> Bool {
        isValidTraceparent(Array(value.utf8))
    }

    static func isValidTraceparent(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 55 else { return false }
        func isLowerHex(_ range: Range<Int>) -> Bool {
            bytes[range].allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
        }
        func isAllZero(_ range: Range<Int>) -> Bool { bytes[range].allSatisfy { $0 == 0x30 } }
        guard isLowerHex(0..<2), bytes[2] == 0x2D, isLowerHex(3..<35), bytes[35] == 0x2D,
              isLowerHex(36..<52), bytes[52] == 0x2D, isLowerHex(53..<55) else { return false }
        let version = bytes[0..<2]
        if version.elementsEqual("ff".utf8) { return false }
        if version.elementsEqual("00".utf8), bytes.count != 55 { return false }
        if bytes.count > 55, bytes[55] != 0x2D { return false }
        return !isAllZero(3..<35) && !isAllZero(36..<52)
    }

    // MARK: - Header value codecs

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Lower-case canonical form (Foundation's uuidString is upper case, and slow on Linux).
    private static func text(_ uuid: UUID) -> [UInt8] {
        var result = [UInt8]()
        result.reserveCapacity(36)
        withUnsafeBytes(of: uuid.uuid) { raw in
            for (index, byte) in raw.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 { result.append(0x2D) }
                result.append(hexDigits[Int(byte >> 4)])
                result.append(hexDigits[Int(byte & 0x0F)])
            }
        }
        return result
    }

    private static func utf8(_ value: [UInt8]?, header: String, expected: String) throws(EventDecodingError) -> String {
        guard let value else {
            throw .malformedHeader(name: header, value: HeaderText.render(value), expected: expected)
        }
        // ASCII (the usual case) is valid UTF-8; String(decoding:) is much cheaper than validating.
        if value.allSatisfy({ $0 < 0x80 }) { return String(decoding: value, as: UTF8.self) }
        guard let text = String(validating: value, as: UTF8.self) else {
            throw .malformedHeader(name: header, value: HeaderText.render(value), expected: expected)
        }
        return text
    }

    /// Exactly the 36-character hyphenated form, either case.
    private static func uuid(_ value: [UInt8]?, header: String) throws(EventDecodingError) -> UUID {
        guard let value, value.count == 36 else {
            throw .malformedHeader(name: header, value: HeaderText.render(value), expected: uuidExpectation)
        }
        func nibble(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 0x30...0x39: byte - 0x30
            case 0x61...0x66: byte - 0x61 + 10
            case 0x41...0x46: byte - 0x41 + 10
            default: nil
            }
        }
        var uuid: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let valid = withUnsafeMutableBytes(of: &uuid) { out -> Bool in
            var position = 0
            for index in 0..<16 {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    guard value[position] == 0x2D else { return false }
                    position += 1
                }
                guard let high = nibble(value[position]), let low = nibble(value[position + 1]) else { return false }
                out[index] = high << 4 | low
                position += 2
            }
            return true
        }
        guard valid else {
            throw .malformedHeader(name: header, value: HeaderText.render(value), expected: uuidExpectation)
        }
        return UUID(uuid: uuid)
    }

    private static let uuidExpectation = "a UUID like 3f2504e0-4f89-41d3-9a0c-0305e82c3301"

    /// A non-negative decimal that fits Int64: ASCII digits only.
    private static func decimal(_ value: [UInt8]?, header: String) throws(EventDecodingError) -> Int64 {
        let expected = "a non-negative decimal integer"
        guard let value, !value.isEmpty, value.count <= 19 else {
            throw .malformedHeader(name: header, value: HeaderText.render(value), expected: expected)
        }
        var result: Int64 = 0
        for byte in value {
            guard (0x30...0x39).contains(byte) else {
                throw .malformedHeader(name: header, value: HeaderText.render(value), expected: expected)
            }
            let (shifted, overflow1) = result.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = shifted.addingReportingOverflow(Int64(byte - 0x30))
            guard !overflow1, !overflow2 else {
                throw .malformedHeader(name: header, value: HeaderText.render(value), expected: "a decimal integer that fits in 64 bits")
            }
            result = sum
        }
        return result
    }
}
