import EventSchema
import Kafka

/// Turns a consumed saga record into what the audit checks.
enum TopicRecordDecoder {
    /// Where the record is and why it could not be read.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func decode(_ message: ConsumedMessage) -> Result<AuditSnapshot.TopicRecord, Failure> {
        let decoded: DecodedEvent
        do {
            decoded = try DecodedEvent(headers: message.headers.map { (name: $0.key, value: $0.value) },
                                       payload: message.value, topic: message.topic)
        } catch {
            return .failure(Failure(description: "\(message.topic)[\(message.partition)]@\(message.offset): \(error)"))
        }
        let envelope = decoded.envelope
        var record = AuditSnapshot.TopicRecord(
            topic: message.topic, partition: message.partition, offset: message.offset,
            orderId: envelope.orderId, eventId: envelope.eventId.uuidString.lowercased(),
            eventType: envelope.eventType, sequence: envelope.sequence)
        switch decoded.event {
        case .orderPlaced(let placed):
            record.lines = placed.lines.map { AuditSnapshot.Line(sku: $0.sku, quantity: Int64($0.quantity)) }
        case .orderCancelled(let cancelled):
            record.cancelReason = cancelReasonText(cancelled.reason)
        case .notificationSent(let sent):
            record.notificationKind = NotificationKind(sent.kind)
        default:
            break
        }
        return .success(record)
    }
}
