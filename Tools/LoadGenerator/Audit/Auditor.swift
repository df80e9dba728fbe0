import EventSchema

/// Checks the invariants of ARCHITECTURE.md §4 on a snapshot. Pure: the same snapshot always
/// gives the same verdict, and nothing here talks to a service.
enum Auditor {
    static func audit(_ snapshot: AuditSnapshot) -> AuditResult {
        let index = AuditIndex(snapshot)
        var notes: [String] = []
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

    init(_ snapshot: AuditSnapshot) {
        ordersById = Dictionary(snapshot.orders.map { ($0.orderId, $0) }, uniquingKeysWith: { first, _ in first })
        recordsByOrder = Dictionary(grouping: snapshot.records, by: \.orderId)
    }

    /// Distinct event-ids of `type` for `orderId`: the same event-id twice is one event
    /// published twice by a relay, not two events.
    func distinctEvents(_ type: EventType, of orderId: String) -> [AuditSnapshot.TopicRecord] {
        var seen = Set<String>()
        return (recordsByOrder[orderId] ?? []).filter { $0.eventType == type && seen.insert($0.eventId).inserted }
    }
}
