import Credentials
import EventSchema
import Kafka

/// Turns a consumed saga record into what the audit checks.
enum TopicRecordDecoder {
    /// Where the record is and why it could not be read.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// A record the consumers would not take as an event is not one for the audit either: an
    /// invalid envelope or payload, one its topic's writer did not sign (given an
    /// `authenticator`), or a key or partition that is not its order's (given the topic's
    /// `partitionCount`), which the consumers dead-letter.
    static func decode(_ message: ConsumedMessage, partitionCount: Int32? = nil,
                       authenticator: EventAuthenticator? = nil) -> Result<AuditSnapshot.TopicRecord, Failure> {
        let decoded: DecodedEvent
        let headers = message.headers.map { (name: $0.key, value: $0.value) }
        do {
            decoded = try DecodedEvent(headers: headers, payload: message.value, topic: message.topic)
        } catch {
            return .failure(Failure(description: "\(message.topic)[\(message.partition)]@\(message.offset): \(error)"))
        }
        let envelope = decoded.envelope
        if let authenticator,
           case .rejected(let why) = authenticator.check(topic: message.topic, key: message.key, payload: message.value,
                                                         envelope: envelope, headers: headers) {
            return .failure(Failure(description: "\(message.topic)[\(message.partition)]@\(message.offset): unauthenticated, dead-lettered by the consumers: \(why)"))
        }
        let key = Array(envelope.orderId.utf8)
        guard message.key == key else {
            return .failure(Failure(description: "\(message.topic)[\(message.partition)]@\(message.offset): its key is not its order-id \(envelope.orderId) (misrouted, dead-lettered by the consumers)"))
        }
        if let partitionCount, Murmur2Partitioner.partition(forKey: key, partitionCount: partitionCount) != message.partition {
            return .failure(Failure(description: "\(message.topic)[\(message.partition)]@\(message.offset): order \(envelope.orderId) belongs in another partition (misrouted, dead-lettered by the consumers)"))
        }
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
