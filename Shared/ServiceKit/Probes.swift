import Hummingbird
import Messaging
import Persistence

/// `/healthz` (the process answers) and `/readyz` (it can do its job: the database answers and
/// the consumer holds partitions of its group).
struct Probes {
    let database: any SQLDatabase
    let runtime: ConsumerRuntime
    let relay: OutboxRelay

    struct Readiness: Codable {
        var status: String
        var database: String
        var assignedPartitions: Int
        var outboxPending: Int
        var relayLeader: Bool
    }

    func add(to router: Router<BasicRequestContext>) {
        router.get("/healthz") { _, _ in try JSONResponse.make(["status": "ok"]) }
        router.get("/readyz") { _, _ in
            var problems: [String] = []
            var databaseState = "ok"
            do {
                _ = try await database.read { try $0.query("SELECT 1 AS one") }
            } catch {
                databaseState = "\(error)"
                problems.append("database: \(error)")
            }
            let partitions = runtime.assignment.count
            if partitions == 0 { problems.append("the consumer holds no partitions yet (joining its group, or Kafka unreachable)") }
            guard problems.isEmpty else {
                throw Problem.unavailable("not ready: " + problems.joined(separator: "; "))
            }
            let relayStats = relay.statistics
            return try JSONResponse.make(Readiness(
                status: "ready", database: databaseState, assignedPartitions: partitions,
                outboxPending: relayStats.pendingRows, relayLeader: relayStats.isLeader))
        }
    }
}
