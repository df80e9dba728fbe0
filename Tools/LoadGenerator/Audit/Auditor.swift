import EventSchema
import Kafka

/// Checks the invariants of ARCHITECTURE.md §4 on a snapshot. Pure: the same snapshot always
/// gives the same verdict, and nothing here talks to a service.
enum Auditor {
    static func audit(_ snapshot: AuditSnapshot) -> AuditResult {
        let index = AuditIndex(snapshot)
        var notes: [String] = []
        for (ref, extent) in index.truncated.sorted(by: { $0.key < $1.key }) {
            notes.append("\(ref) starts at offset \(extent.low): its oldest records were deleted (retention) before the audit read them; an order whose expected record may be among them is not checked, not counted as a violation")
        }
        if !snapshot.undecodableRecords.isEmpty {
            notes.append("\(snapshot.undecodableRecords.count) topic records could not be decoded and were not checked, e.g. \(snapshot.undecodableRecords[0])")
        }
        let invariants = [
            TerminalCheck.run(snapshot, index),
            StockCheck.run(snapshot, index),
            BalanceCheck.run(snapshot, index),
            OncePerOrderCheck.run(snapshot, index),
            SequenceCheck.run(snapshot, index),
        ]
        return AuditResult(invariants: invariants, anomalies: AnomalyCheck.run(snapshot, invariants: invariants),
                           duplicates: snapshot.instances.isEmpty ? nil : DuplicateMetrics(snapshot.instances), notes: notes)
    }
}

/// Lookups several checks share, built once per audit.
struct AuditIndex {
    let ordersById: [String: AuditSnapshot.Order]
    /// Topic records per order, per event type, in the snapshot's (offset) order.
    let recordsByOrder: [String: [AuditSnapshot.TopicRecord]]
    /// Partitions whose log no longer starts at offset 0 (retention deleted the oldest records;
    /// librdkafka's mock cluster keeps a few MiB per partition).
    let truncated: [PartitionRef: Watermarks]
    /// The same, by topic.
    private let cutPartitions: [String: Set<Int32>]

    init(_ snapshot: AuditSnapshot) {
        ordersById = Dictionary(snapshot.orders.map { ($0.orderId, $0) }, uniquingKeysWith: { first, _ in first })
        recordsByOrder = Dictionary(grouping: snapshot.records, by: \.orderId)
        truncated = snapshot.watermarks.filter { $0.value.low > 0 }
        cutPartitions = Dictionary(grouping: truncated.keys, by: \.topic).mapValues { Set($0.map(\.partition)) }
    }

    /// Whether a record of `orderId` on `topic` the audit does not find may have been deleted by
    /// retention: its partition there (known from another of its records on the topic, else any
    /// partition of the topic) lost its oldest records.
    func recordsMayBeGone(on topic: String, of orderId: String) -> Bool {
        guard let cut = cutPartitions[topic] else { return false }
        guard let partition = recordsByOrder[orderId]?.first(where: { $0.topic == topic })?.partition else { return true }
        return cut.contains(partition)
    }

    /// Distinct event-ids of `type` for `orderId`: the same event-id twice is one event
    /// published twice by a relay, not two events.
    func distinctEvents(_ type: EventType, of orderId: String) -> [AuditSnapshot.TopicRecord] {
        var seen = Set<String>()
        return (recordsByOrder[orderId] ?? []).filter { $0.eventType == type && seen.insert($0.eventId).inserted }
    }
}
