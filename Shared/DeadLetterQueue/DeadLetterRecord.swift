import Credentials
import EventSchema
import Foundation
import Kafka
import Messaging
import SwiftProtobuf

/// One dead letter as read from deadletter.v1: what `kafka-tool deadletters` and the console
/// list, show and replay.
public struct DeadLetterRecord: Sendable {
    public let id: UUID
    public let producedAtUnixMs: Int64
    public let letter: Saga_V1_DeadLetter
    /// Where the dead letter itself is on deadletter.v1.
    public let partition: Int32
    public let offset: Int64

    public init(id: UUID, producedAtUnixMs: Int64, letter: Saga_V1_DeadLetter, partition: Int32, offset: Int64) {
        self.id = id
        self.producedAtUnixMs = producedAtUnixMs
        self.letter = letter
        self.partition = partition
        self.offset = offset
    }

    public var idText: String { id.uuidString.lowercased() }
    public var location: String { "\(TopicCatalog.deadLetters.name)[\(partition)]@\(offset)" }
    public var originText: String { "\(letter.originTopic)[\(letter.originPartition)]@\(letter.originOffset)" }
    public var kind: String { Self.kindName(letter.errorKind) }
    /// The service whose consumer dead-lettered the record (its consumer group).
    public var service: String { letter.consumerGroup }
    /// Why it cannot be replayed, or nil (`DeadLetterReplay.refusal`).
    public var replayRefusal: String? { DeadLetterReplay.refusal(letter) }

    /// Why a record of deadletter.v1 is not listed.
    public enum Skip: Error, Sendable, CustomStringConvertible {
        case notADeadLetter(String)
        /// Not signed by a service: anyone who can write to the topic could have put it there,
        /// and replaying it would replay whatever it says.
        case unauthenticated(String)

        public var description: String {
            switch self {
            case .notADeadLetter(let where_): "\(where_): not a dead letter"
            case .unauthenticated(let why): "not written by a service (\(why))"
            }
        }
    }

    /// The dead letter a consumed record of deadletter.v1 holds, when a service signed it.
    public static func read(_ message: ConsumedMessage, authenticator: EventAuthenticator) -> Result<DeadLetterRecord, Skip> {
        let topic = TopicCatalog.deadLetters.name
        let headers = message.headers.map { (name: $0.key, value: $0.value) }
        guard let decoded = try? DecodedEvent(headers: headers, payload: message.value, topic: topic),
              case .deadLetter(let letter) = decoded.event else {
            return .failure(.notADeadLetter("\(message.topicPartition)@\(message.offset)"))
        }
        if case .rejected(let why) = authenticator.check(topic: topic, key: message.key, payload: message.value,
                                                         envelope: decoded.envelope, headers: headers) {
            return .failure(.unauthenticated("\(message.topicPartition)@\(message.offset): \(why)"))
        }
        return .success(DeadLetterRecord(id: decoded.envelope.eventId, producedAtUnixMs: decoded.envelope.producedAtUnixMs,
                                         letter: letter, partition: message.partition, offset: message.offset))
    }

    public var time: String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(producedAtUnixMs) / 1000))
    }

    public var textLine: String {
        let error = letter.error.count > 120 ? letter.error.prefix(120) + "…" : Substring(letter.error)
        return "\(idText)  \(time)  \(letter.consumerGroup)  \(originText)  \(kind)\(letter.truncated ? " (truncated)" : "")  \(error)"
    }

    public var jsonLine: String {
        let object: [String: Any] = [
            "id": idText, "producedAt": producedAtUnixMs, "group": letter.consumerGroup,
            "originTopic": letter.originTopic, "originPartition": letter.originPartition, "originOffset": letter.originOffset,
            "kind": kind, "error": letter.error, "truncated": letter.truncated,
            "orderId": letter.orderID, "originalSize": letter.originalSize,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// The original record's key and headers, each rendered as escaped text (hex when not UTF-8).
    public var renderedKey: String { letter.hasKey ? HeaderText.render([UInt8](letter.key)) : "(null)" }
    public var renderedHeaders: [(name: String, value: String)] {
        letter.originHeaders.map { header in
            (HeaderText.render(Array(header.name.utf8)), header.hasValue ? HeaderText.render([UInt8](header.value)) : "<null>")
        }
    }

    /// The payload decoded as its event, or why it does not decode.
    public enum Payload: Sendable {
        case absent
        case decoded(eventType: String, json: String, text: String)
        case raw(bytes: [UInt8], reason: String)
    }

    public var payload: Payload {
        guard letter.hasPayload else { return .absent }
        let bytes = [UInt8](letter.payload)
        do {
            let decoded = try DecodedEvent(headers: letter.originalHeaders, payload: bytes, topic: letter.originTopic)
            var options = JSONEncodingOptions()
            options.preserveProtoFieldNames = false
            let json = (try? decoded.event.message.jsonString(options: options)) ?? "{}"
            return .decoded(eventType: decoded.envelope.eventType.rawValue, json: json, text: decoded.event.message.textFormatString())
        } catch {
            return .raw(bytes: bytes, reason: "\(error)")
        }
    }

    public var fullText: String {
        var lines = [
            "dead letter \(idText) at \(location), produced \(time)",
            "service (group): \(letter.consumerGroup)",
            "origin:          \(originText), broker time \(letter.originTimestampUnixMs)",
            "kind:            \(kind)",
            "error:           \(letter.error)",
            "order id:        \(letter.orderID.isEmpty ? "(none valid)" : letter.orderID)",
            "original:        \(letter.originalSize) bytes, payload SHA-256 \(letter.originalSha256.map { String(format: "%02x", $0) }.joined())",
        ]
        if letter.truncated { lines.append("truncated:       yes, cut to fit the broker's maximum message size (cannot be replayed)") }
        lines.append("key:             \(renderedKey)")
        lines.append("headers:")
        for header in renderedHeaders { lines.append("  \(header.name): \(header.value)") }
        switch payload {
        case .absent:
            lines.append("payload:         (null)")
        case .decoded(let eventType, _, let text):
            lines.append("payload:         \(letter.payload.count) bytes")
            lines.append("decoded as \(eventType):")
            lines.append(text.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        case .raw(_, let reason):
            lines.append("payload:         \(letter.payload.count) bytes")
            lines.append("not decodable: \(reason)")
        }
        return lines.joined(separator: "\n")
    }

    public static let kindNames = ["undecodable", "misrouted", "rejected", "unauthenticated"]

    public static func kindName(_ kind: Saga_V1_DeadLetter.ErrorKind) -> String {
        switch kind {
        case .undecodable: "undecodable"
        case .rejected: "rejected"
        case .misrouted: "misrouted"
        case .unauthenticated: "unauthenticated"
        case .unspecified: "unspecified"
        case .UNRECOGNIZED(let value): "kind \(value)"
        }
    }
}
