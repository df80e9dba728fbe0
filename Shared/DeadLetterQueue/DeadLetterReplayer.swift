import Credentials
import Foundation
import Kafka
import Logging
import Messaging

/// Replays dead letters as `kafka-tool deadletters replay` and the console do: each letter that
/// can be replayed goes back to its origin topic and partition, signed by the operator's key
/// (`DeadLetterReplay`); the others are refused with the reason. The consumers' inboxes make a
/// replay count once however often it is sent.
public struct DeadLetterReplayer: Sendable {
    public let configuration: KafkaConfiguration
    public let operatorKey: EventSigner
    public let logger: Logger

    public init(configuration: KafkaConfiguration, operatorKey: EventSigner, logger: Logger) throws {
        guard operatorKey.owner == EventKeyOwner.operator else {
            throw KeyFileError.invalid("replays are signed with an operator's key; '\(operatorKey.keyId)' is \(operatorKey.owner)'s")
        }
        self.configuration = configuration
        self.operatorKey = operatorKey
        self.logger = logger
    }

    public enum Outcome: Sendable {
        case replayed(to: DeliveryReport)
        case refused(String)
        case failed(String)

        public var succeeded: Bool {
            if case .replayed = self { true } else { false }
        }
    }

    /// Splits `letters` into those that can be replayed and those refused, with the reason.
    public static func partition(_ letters: [DeadLetterRecord]) -> (replayable: [DeadLetterRecord], refused: [(DeadLetterRecord, String)]) {
        var replayable: [DeadLetterRecord] = []
        var refused: [(DeadLetterRecord, String)] = []
        for letter in letters {
            if let why = letter.replayRefusal { refused.append((letter, why)) } else { replayable.append(letter) }
        }
        return (replayable, refused)
    }

    /// Sends every replayable letter; one outcome per letter, in the order given.
    public func replay(_ letters: [DeadLetterRecord]) async throws -> [(DeadLetterRecord, Outcome)] {
        let (replayable, refused) = Self.partition(letters)
        var outcomes: [UUID: Outcome] = [:]
        for (letter, why) in refused { outcomes[letter.id] = .refused(why) }
        if !replayable.isEmpty {
            let records = try replayable.map { try DeadLetterReplay.record(of: $0.letter, letterId: $0.id, signedBy: operatorKey) }
            let producer = try KafkaProducer(configuration: configuration, logger: logger)
            let results = try await producer.send(records)
            await producer.close()
            for (letter, result) in zip(replayable, results) {
                switch result {
                case .success(let report): outcomes[letter.id] = .replayed(to: report)
                case .failure(let error): outcomes[letter.id] = .failed("\(error)")
                }
            }
        }
        return letters.map { ($0, outcomes[$0.id] ?? .failed("not sent")) }
    }
}
