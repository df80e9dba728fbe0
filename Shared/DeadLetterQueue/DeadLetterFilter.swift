import EventSchema
import Foundation

/// Which dead letters a command or a page is about; every selector given must match.
public struct DeadLetterFilter: Sendable, Equatable {
    public var topic: String?
    public var partition: Int32?
    public var offset: Int64?
    public var ids: Set<UUID> = []
    /// Lower-cased text the error must contain.
    public var reason: String?
    /// The consumer group (service) that dead-lettered the record.
    public var group: String?
    /// `undecodable`, `misrouted`, `rejected`, `unauthenticated`.
    public var kind: String?
    public var orderId: String?
    /// Produced at or after (Unix ms).
    public var since: Int64?
    /// Produced before (Unix ms).
    public var until: Int64?

    public init() {}

    public var isEmpty: Bool { self == DeadLetterFilter() }

    public func matches(_ record: DeadLetterRecord) -> Bool {
        let letter = record.letter
        if let topic, letter.originTopic != topic { return false }
        if let partition, letter.originPartition != partition { return false }
        if let offset, letter.originOffset != offset { return false }
        if !ids.isEmpty, !ids.contains(record.id) { return false }
        if let reason, !letter.error.lowercased().contains(reason) { return false }
        if let group, letter.consumerGroup != group { return false }
        if let kind, record.kind != kind { return false }
        if let orderId, letter.orderID != orderId { return false }
        if let since, record.producedAtUnixMs < since { return false }
        if let until, record.producedAtUnixMs >= until { return false }
        return true
    }

    /// Bad selector text, with what to give instead.
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// `TOPIC`, `TOPIC:PARTITION` or `TOPIC:PARTITION:OFFSET`.
    public mutating func setOrigin(_ origin: String) throws(Invalid) {
        let parts = origin.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (1...3).contains(parts.count), !parts[0].isEmpty else {
            throw Invalid("origin \(origin): expected TOPIC, TOPIC:PARTITION or TOPIC:PARTITION:OFFSET")
        }
        topic = parts[0]
        partition = nil
        offset = nil
        if parts.count > 1 {
            guard let value = Int32(parts[1]), value >= 0 else { throw Invalid("origin \(origin): the partition must be a number") }
            partition = value
        }
        if parts.count > 2 {
            guard let value = Int64(parts[2]), value >= 0 else { throw Invalid("origin \(origin): the offset must be a number") }
            offset = value
        }
    }

    /// A dead letter's event-id.
    public static func id(_ text: String) throws(Invalid) -> UUID {
        guard let uuid = UUID(uuidString: text.trimmingCharacters(in: .whitespaces)) else {
            throw Invalid("\(text) is not a UUID (the dead letter's event-id)")
        }
        return uuid
    }

    /// ISO 8601 (`2026-12-02T10:00:00Z`, with or without fractions) or Unix milliseconds.
    public static func time(_ text: String, name: String) throws(Invalid) -> Int64 {
        if let millis = Int64(text) { return millis }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) ?? ISO8601DateFormatter().date(from: text) {
            return Int64((date.timeIntervalSince1970 * 1000).rounded())
        }
        throw Invalid("\(name) \(text): expected ISO 8601 like 2026-12-02T10:00:00Z or Unix milliseconds")
    }

    public static func kind(_ text: String) throws(Invalid) -> String {
        guard DeadLetterRecord.kindNames.contains(text) else {
            throw Invalid("kind \(text): expected one of \(DeadLetterRecord.kindNames.joined(separator: ", "))")
        }
        return text
    }
}
