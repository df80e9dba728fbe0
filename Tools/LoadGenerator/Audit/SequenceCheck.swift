/// Invariant 5: per topic and order, the `sequence` header strictly increases in offset
/// order. A record repeating an earlier event-id with the same sequence is the relay
/// publishing twice and is allowed; a new event-id that does not go up, or one event-id with
/// two sequences, is a violation.
enum SequenceCheck {
    private struct StreamKey: Hashable {
        let topic: String
        let orderId: String
    }

    static func run(_ snapshot: AuditSnapshot, _ index: AuditIndex) -> InvariantResult {
        var result = InvariantResult(number: 5, title: "per topic and order, the sequence header strictly increases in offset order",
                                     checkedWhat: "topic/order streams")
        let streams = Dictionary(grouping: snapshot.records) { StreamKey(topic: $0.topic, orderId: $0.orderId) }
        result.checked = streams.count
        var redeliveries = 0
        for key in streams.keys.sorted(by: { ($0.topic, $0.orderId) < ($1.topic, $1.orderId) }) {
            let records = streams[key]!.sorted { ($0.partition, $0.offset) < ($1.partition, $1.offset) }
            let partitions = Set(records.map(\.partition))
            if partitions.count > 1 {
                // Offset order across partitions means nothing: every event of an order must share one.
                result.violation("order \(key.orderId) on \(key.topic) is spread over partitions \(partitions.sorted().map(String.init).joined(separator: ", ")): not co-partitioned")
                continue
            }
            var sequenceOf: [String: Int64] = [:]
            var highest: Int64?
            for record in records {
                if let earlier = sequenceOf[record.eventId] {
                    if earlier == record.sequence {
                        redeliveries += 1
                    } else {
                        result.violation("order \(key.orderId) on \(key.topic): event \(record.eventId) appears with sequence \(earlier) and \(record.sequence) (offset \(record.offset))")
                    }
                    continue
                }
                if let highest, record.sequence <= highest {
                    result.violation("order \(key.orderId) on \(key.topic): \(record.eventType) \(record.eventId) at offset \(record.offset) has sequence \(record.sequence) after \(highest)")
                }
                sequenceOf[record.eventId] = record.sequence
                highest = max(highest ?? record.sequence, record.sequence)
            }
        }
        if redeliveries > 0 {
            result.notes.append("\(redeliveries) records repeat an earlier event-id with the same sequence (relay redelivery, absorbed by the consumers' inboxes)")
        }
        return result
    }
}
