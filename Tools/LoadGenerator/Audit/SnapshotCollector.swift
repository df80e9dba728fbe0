import Credentials
import EventSchema
import Kafka
import Logging

/// Gathers an `AuditSnapshot` from the running system: the saga topics up to their end, then
/// every paged listing of the four services.
struct SnapshotCollector: Sendable {
    let state: StateReader
    let instances: [ServiceInstance]
    let kafka: KafkaConfiguration
    let topicReadTimeout: Duration
    /// Who wrote each record: one its topic's writer did not sign is not an event (nil: all are).
    let authenticator: EventAuthenticator?
    let logger: Logger

    func collect(acceptedOrderIds: Set<String>?) async throws -> AuditSnapshot {
        // Topics first: once the system has drained, every record of an order listed below
        // is already there.
        let topics = try await TopicReader.read(configuration: kafka, timeout: topicReadTimeout, authenticator: authenticator, logger: logger)
        async let orders = state.orders()
        async let stock = state.stock()
        async let reservations = state.reservations()
        async let payments = state.payments()
        async let accounts = state.accounts()
        async let notifications = state.notifications()
        var snapshot = AuditSnapshot(
            orders: try await orders, stock: try await stock, reservations: try await reservations,
            payments: try await payments, accounts: try await accounts, notifications: try await notifications,
            records: topics.records, undecodableRecords: topics.undecodable, acceptedOrderIds: acceptedOrderIds)
        snapshot.watermarks = topics.watermarks
        snapshot.orderLines = try await orderLines(snapshot)
        // Last: every consumer offset read here was stored after the topics' cut was taken.
        snapshot.instances = await InstanceReader(http: state.http).states(of: instances)
        return snapshot
    }

    /// Lines per order from OrderPlaced; a CONFIRMED order whose OrderPlaced is not on the
    /// topic any more (retention) is asked for one by one.
    private func orderLines(_ snapshot: AuditSnapshot) async throws -> [String: [AuditSnapshot.Line]] {
        var lines: [String: [AuditSnapshot.Line]] = [:]
        for record in snapshot.records where record.eventType == .orderPlaced && lines[record.orderId] == nil {
            lines[record.orderId] = record.lines
        }
        let missing = snapshot.orders.filter { $0.status == .confirmed && lines[$0.orderId] == nil }.map(\.orderId)
        if !missing.isEmpty {
            logger.notice("fetching the lines of \(missing.count) orders whose OrderPlaced is not on orders.v1")
        }
        for chunk in stride(from: 0, to: missing.count, by: 16).map({ missing[$0..<min($0 + 16, missing.count)] }) {
            try await withThrowingTaskGroup(of: (String, [AuditSnapshot.Line]).self) { group in
                for orderId in chunk {
                    group.addTask {
                        let detail = try await state.order(orderId)
                        return (orderId, detail.lines.map { AuditSnapshot.Line(sku: $0.sku, quantity: Int64($0.quantity)) })
                    }
                }
                for try await (orderId, orderLines) in group { lines[orderId] = orderLines }
            }
        }
        return lines
    }
}
