import EventSchema
import Foundation
import Kafka

/// The id a consumed message is recorded under in the inbox (see `ReplayMarker`).
enum ReplayIdentity {
    static func inboxId(eventId: UUID, message: ConsumedMessage) -> UUID {
        guard message.headers.contains(where: { $0.key == ReplayMarker.header }),
              let replayOf = ReplayMarker.replayOf(message.headers.lazy.map { (name: $0.key, value: $0.value) }) else {
            return eventId
        }
        return ReplayMarker.inboxId(eventId: eventId, replayOf: replayOf)
    }
}
