import Credentials
import EventSchema
import Kafka

/// An event that moves a followed order forward: its end on orders.v1, its notification.
struct FollowedEvent: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case confirmed
        case cancelled(reason: String)
        case notified(NotificationKind?)
    }

    let orderId: String
    let eventId: String
    let kind: Kind

    /// The event in `message`, or nil for one the follower does not care about (OrderPlaced),
    /// cannot read, or that its topic's writer did not sign (the audit reports those; following
    /// just skips them).
    init?(_ message: ConsumedMessage, authenticator: EventAuthenticator? = nil) {
        // Cheap check on the header first: most records of orders.v1 are OrderPlaced.
        let headers = message.headers.map { (name: $0.key, value: $0.value) }
        guard let typeBytes = message.header(EventEnvelope.Header.eventType),
              let type = EventType(rawValue: String(decoding: typeBytes, as: UTF8.self)),
              [.orderConfirmed, .orderCancelled, .notificationSent].contains(type),
              let decoded = try? DecodedEvent(headers: headers, payload: message.value)
        else { return nil }
        if let authenticator, case .rejected = authenticator.check(topic: message.topic, key: message.key, payload: message.value,
                                                                   envelope: decoded.envelope, headers: headers) {
            return nil
        }
        orderId = decoded.envelope.orderId
        eventId = decoded.envelope.eventId.uuidString.lowercased()
        switch decoded.event {
        case .orderConfirmed: kind = .confirmed
        case .orderCancelled(let cancelled): kind = .cancelled(reason: cancelReasonText(cancelled.reason))
        case .notificationSent(let sent): kind = .notified(NotificationKind(sent.kind))
        default: return nil
        }
    }

    init(orderId: String, eventId: String, kind: Kind) {
        self.orderId = orderId
        self.eventId = eventId
        self.kind = kind
    }
}
