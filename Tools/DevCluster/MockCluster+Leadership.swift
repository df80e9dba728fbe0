import CRdKafka
import DevClusterAPI
import Logging
import SagaAPI

// MARK: leadership

extension MockCluster {
    private func addGroups(_ extra: [String]) {
        for g in extra where !groups.contains(g) { groups.append(g) }
    }

    private func setLeader(_ mc: OpaquePointer, _ topic: String, _ p: Int, _ broker: Int,
                           _ moves: inout [DevClusterLeaderMove]) throws {
        let from = leaders[topic]![p]
        guard from != broker else { return }
        try Self.check(rd_kafka_mock_partition_set_leader(mc, topic, Int32(p), Int32(broker)),
                       "set leader of \(topic)[\(p)] to \(broker)")
        leaders[topic]![p] = broker
        moves.append(.init(topic: topic, partition: p, from: from, to: broker))
    }

    private func setCoordinator(_ mc: OpaquePointer, _ group: String, _ broker: Int,
                                _ moves: inout [DevClusterCoordinatorMove]) throws {
        let from = coordinators[group]
        guard from != broker else { return }
        try Self.check(rd_kafka_mock_coordinator_set(mc, "group", group, Int32(broker)),
                       "set coordinator of \(group) to \(broker)")
        coordinators[group] = broker
        moves.append(.init(group: group, from: from, to: broker))
    }

    /// The failover real Kafka does when a broker dies: every partition it leads, and every
    /// known group it coordinates, moves to the live brokers (round-robin). Clients learn it
    /// through NOT_LEADER / NOT_COORDINATOR answers or their next metadata refresh.
    func evacuate(_ id: Int, groups extra: [String]) throws -> DevClusterActionResult {
        let mc = try liveHandle()
        _ = try resolve(.one(id))
        addGroups(extra)
        let targets = brokerIds.filter { $0 != id && isLive($0) }
        guard !targets.isEmpty else {
            throw Problem.conflict(
                "no broker other than \(id) is up and not paused: nowhere to move leadership to")
        }
        var leaderMoves: [DevClusterLeaderMove] = []
        var next = 0
        for topic in topicNames {
            for p in 0..<(leaders[topic]?.count ?? 0) where leaders[topic]![p] == id {
                try setLeader(mc, topic, p, targets[next % targets.count], &leaderMoves)
                next += 1
            }
        }
        var coordinatorMoves: [DevClusterCoordinatorMove] = []
        next = 0
        // Groups never set explicitly (added by this request) are hashed by the mock, maybe
        // onto this broker: pin them too.
        for group in groups where coordinators[group] == nil || coordinators[group] == id {
            try setCoordinator(mc, group, targets[next % targets.count], &coordinatorMoves)
            next += 1
        }
        logger.info("evacuated broker \(id): \(leaderMoves.count) leaders, \(coordinatorMoves.count) coordinators moved to \(targets)")
        return result("evacuate", [id], leaderMoves: leaderMoves, coordinatorMoves: coordinatorMoves)
    }

    /// Spreads leaders and coordinators round-robin over the live brokers, the same layout as
    /// at start when all are live: partition p goes to live[p % live.count].
    func rebalance(groups extra: [String]) throws -> DevClusterActionResult {
        let mc = try liveHandle()
        addGroups(extra)
        let live = brokerIds.filter(isLive)
        guard !live.isEmpty else { throw Problem.conflict("no broker is up and not paused") }
        var leaderMoves: [DevClusterLeaderMove] = []
        for topic in topicNames {
            for p in 0..<(leaders[topic]?.count ?? 0) {
                try setLeader(mc, topic, p, live[p % live.count], &leaderMoves)
            }
        }
        var coordinatorMoves: [DevClusterCoordinatorMove] = []
        for (i, group) in groups.enumerated() {
            try setCoordinator(mc, group, live[i % live.count], &coordinatorMoves)
        }
        logger.info("rebalanced over \(live): \(leaderMoves.count) leaders, \(coordinatorMoves.count) coordinators moved")
        return result("rebalance", [], leaderMoves: leaderMoves, coordinatorMoves: coordinatorMoves)
    }
}
