import Foundation
import Hummingbird
import Kafka
import Logging
import Messaging
import Persistence
import SagaAPI

/// What an operator (the console, `curl`) sees and does beyond `/consumer`:
///
/// - `GET /relay` (staff): this instance's relay (leader or standing by, rows waiting and the
///   oldest one's age, how long no broker acknowledged) and the lease row every instance of the
///   service competes for (holder, epoch, how long it is still valid by the database's clock).
/// - `POST /consumer/reset` (operator): sets where a partition *held for an offset anomaly*
///   resumes, as `kafka-tool offsets reset` does, through the service that owns the offsets so
///   the caller needs no database credentials. A partition that flows, or that another instance
///   consumes, is refused: moving a live partition under its consumer is what the hold prevents.
struct OperatorRoutes {
    let database: any SQLDatabase
    let runtime: ConsumerRuntime
    let relay: OutboxRelay
    let instance: String
    let logger: Logger

    func add(to routes: EdgeRoutes) {
        routes.get("/relay", .staff) { _, _, _ in
            try JSONResponse.make(try await relayView())
        }
        routes.post("/consumer/reset", .requires(.operator)) { request, _, caller in
            let body = try await Self.parse(request)
            let answer = try await reset(body, by: caller.principal.subject)
            return try JSONResponse.make(answer)
        }
    }

    func relayView() async throws -> RelayView {
        let name = relay.configuration.leaseName
        let lease = try await database.read { connection -> RelayView.Lease? in
            let now = try connection.databaseTimeMillis()
            guard let stored = try OutboxStore.lease(name, on: connection) else { return nil }
            return RelayView.Lease(name: name, holder: stored.holder, epoch: stored.epoch, validForMs: stored.expiresAtMs - now)
        }
        let stats = relay.statistics
        return RelayView(instance: instance, leader: stats.isLeader, pendingRows: stats.pendingRows,
                         oldestAgeSeconds: stats.oldestAgeSeconds, unreachableSeconds: stats.unreachableSeconds,
                         published: stats.published, surrenders: stats.surrenders, lease: lease, problems: relay.problems)
    }

    func reset(_ body: OffsetResetRequest, by subject: String) async throws -> OffsetResetAnswer {
        guard body.next >= 0 else { throw Problem.badRequest("next must be an offset >= 0, got \(body.next)") }
        let group = runtime.configuration.groupID
        let assigned = runtime.report().partitions.first { $0.topic == body.topic && $0.partition == body.partition }
        guard let assigned else {
            throw Problem.conflict("\(body.topic)[\(body.partition)] is not assigned to this instance (\(instance)); reset it on the instance that holds it")
        }
        guard assigned.held != nil else {
            throw Problem.conflict("\(body.topic)[\(body.partition)] is not held: this instance is consuming it, and a reset would move it under its consumer (stop the service and use kafka-tool offsets reset)")
        }
        let partition = TopicPartition(topic: body.topic, partition: body.partition)
        let before = try await StoredOffsets.load(group: group, from: database)[partition]
        try await StoredOffsets.reset(group: group, partition: partition, lastProcessed: body.next - 1, in: database)
        logger.notice("stored offset reset by an operator", metadata: [
            "operator": "\(subject)", "partition": "\(partition)", "before": "\(before.map(String.init) ?? "none")",
            "last-processed": "\(body.next - 1)",
        ])
        return OffsetResetAnswer(group: group, topic: body.topic, partition: body.partition, lastProcessedBefore: before,
                           lastProcessed: body.next - 1, resetBy: subject)
    }

    static func parse(_ request: Request) async throws -> OffsetResetRequest {
        if let type = request.headers[.contentType], !type.lowercased().hasPrefix("application/json") {
            throw Problem(status: 415, title: "Unsupported Media Type", detail: "send the reset as application/json, not \(type)")
        }
        var request = request
        let buffer = try await request.collectBody(upTo: 4096)
        do {
            return try JSONDecoder().decode(OffsetResetRequest.self, from: Data(buffer.readableBytesView))
        } catch {
            throw Problem.badRequest(#"the body must be {"topic": "<topic>", "partition": <n>, "next": <offset>}"#)
        }
    }
}
