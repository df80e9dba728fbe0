import Credentials
import EventSchema
import Foundation
import Kafka

/// Sending a dead letter's record back to where it came from, as an operator (`kafka-tool
/// deadletters replay`, the console): the original record byte for byte, still under its
/// producer's signature, plus `replay-of` (the dead letter's id) and the operator's
/// `replay-signature` over both. The consumer's inbox then records the pair (event, dead
/// letter), so the replay is processed once however often it is sent again.
public enum DeadLetterReplay {
    /// Why a dead letter cannot be replayed, or nil.
    public static func refusal(_ letter: Saga_V1_DeadLetter) -> String? {
        if letter.truncated {
            return "it was cut to fit the broker's maximum size (original \(letter.originalSize) bytes)"
        }
        if (try? EventEnvelope(headers: letter.originalHeaders)) == nil {
            return "its record has no valid envelope, so its consumer would dead-letter it again"
        }
        return nil
    }

    /// The record to send, signed by `operatorKey` (which must be an operator's).
    public static func record(of letter: Saga_V1_DeadLetter, letterId: UUID, signedBy operatorKey: EventSigner) throws -> OutgoingMessage {
        guard operatorKey.owner == EventKeyOwner.operator else {
            throw KeyFileError.invalid("replays are signed with an operator key; '\(operatorKey.keyId)' is \(operatorKey.owner)'s")
        }
        if let refusal = refusal(letter) { throw KeyFileError.invalid("dead letter \(letterId.uuidString.lowercased()) cannot be replayed: \(refusal)") }
        let original = letter.originalHeaders
        let envelope = try EventEnvelope(headers: original)
        let key = letter.hasKey ? [UInt8](letter.key) : nil
        let payload = letter.hasPayload ? [UInt8](letter.payload) : nil
        var headers = original
            .filter { $0.name != ReplayMarker.header && $0.name != EventSignature.replayHeader }
            .map { KafkaHeader(key: $0.name, value: $0.value) }
        headers.append(KafkaHeader(key: ReplayMarker.header, text: letterId.uuidString.lowercased()))
        let signature = try operatorKey.replaySignatureHeader(topic: letter.originTopic, key: key, payload: payload,
                                                              envelope: envelope, replayOf: letterId)
        headers.append(KafkaHeader(key: signature.name, value: signature.value))
        return OutgoingMessage(topic: letter.originTopic, key: key, value: payload, headers: headers, partition: letter.originPartition)
    }
}
