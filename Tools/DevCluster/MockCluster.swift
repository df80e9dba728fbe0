import CRdKafka
import DevClusterAPI
import EventSchema
import Foundation
import Logging
import SagaAPI

struct MockClusterConfig: Sendable {
    var brokers: Int
    var partitions: Int
    var groups: [String]
    var pauseRttMs: Int
    /// librdkafka `debug` contexts for the hosting handle (e.g. "mock").
    var rdkafkaDebug: String?
}

/// One broker, or all of them (`/brokers/all/...`).
enum BrokerTarget: Sendable {
    case all
    case one(Int)
}

/// librdkafka's own log lines (hosting handle and mock brokers) go through swift-log.
/// A global, because a C log callback cannot capture context.
private let rdkafkaLogger = Logger(label: "rdkafka")

/// Owns librdkafka's mock cluster and the facts the mock does not report back:
/// who leads each partition, which broker is down or paused, who coordinates each group.
/// The mock never changes leaders or coordinators on its own, so this bookkeeping is the truth
/// for every topic created here.
actor MockCluster {
    private let rk: OpaquePointer
    /// nil once shut down.
    private var mc: OpaquePointer?
    private let logger: Logger

    let bootstrap: String
    let brokerIds: [Int]
    private let addresses: [Int: String]
    private let partitionCount: Int
    private let replicationFactor: Int
    private let pauseRttMs: Int

    private var down: Set<Int> = []
    private var rtt: [Int: Int] = [:]  // broker -> ms; absent = 0
    private var paused: Set<Int> = []
    private var topicNames: [String]
    private var leaders: [String: [Int]]
    private var groups: [String]
    private var coordinators: [String: Int]

    /// Creates the brokers, every catalog topic, the leaders and the coordinators,
    /// all before anyone can learn the bootstrap list.
    init(config: MockClusterConfig, logger: Logger) throws {
        precondition(config.brokers >= 1 && config.partitions >= 1)
        guard let conf = rd_kafka_conf_new() else { throw Problem.mockFailed("rd_kafka_conf_new failed") }
        rd_kafka_conf_set_log_cb(conf) { _, level, facility, message in
            let text = "\(facility.map { String(cString: $0) } ?? "?"): \(message.map { String(cString: $0) } ?? "")"
            // The hosting handle has no bootstrap.servers by design: not worth a warning.
            let level = text.contains("No `bootstrap.servers` configured") ? 7 : level
            switch level {
            case ...3: rdkafkaLogger.error("\(text)")
            case 4: rdkafkaLogger.warning("\(text)")
            case 5, 6: rdkafkaLogger.info("\(text)")
            default: rdkafkaLogger.debug("\(text)")
            }
        }
        var errstr = [CChar](repeating: 0, count: 512)
        if let debug = config.rdkafkaDebug,
           rd_kafka_conf_set(conf, "debug", debug, &errstr, errstr.count) != RD_KAFKA_CONF_OK {
            rd_kafka_conf_destroy(conf)
            throw Problem(status: .badRequest, title: "Invalid flag", detail: "--rdkafka-debug: \(Self.text(errstr))")
        }
        // A handle of its own that never connects anywhere: it only hosts the mock's thread.
        guard let rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw Problem.mockFailed("rd_kafka_new: \(Self.text(errstr))")
        }
        guard let mc = rd_kafka_mock_cluster_new(rk, Int32(config.brokers)) else {
            rd_kafka_destroy(rk)
            throw Problem.mockFailed("rd_kafka_mock_cluster_new failed")
        }
        let bootstrap = String(cString: rd_kafka_mock_cluster_bootstraps(mc))
        let ids = Array(1...config.brokers)  // rd_kafka_mock_cluster_new numbers brokers 1...N
        let hosts = bootstrap.split(separator: ",").map(String.init)
        let rf = min(3, config.brokers)

        var leaders: [String: [Int]] = [:]
        var coordinators: [String: Int] = [:]
        do {
            for topic in TopicCatalog.all {
                // The mock ignores the replication factor argument: replicas are always the first
                // min(3, N) brokers. Passed anyway for the day it honours it.
                try Self.check(rd_kafka_mock_topic_create(mc, topic.name, Int32(config.partitions), Int32(rf)),
                               "create topic \(topic.name)")
                // The mock picks random leaders; set them so that we know them.
                var topicLeaders: [Int] = []
                for p in 0..<config.partitions {
                    let leader = ids[p % ids.count]
                    try Self.check(rd_kafka_mock_partition_set_leader(mc, topic.name, Int32(p), Int32(leader)),
                                   "set leader of \(topic.name)[\(p)]")
                    topicLeaders.append(leader)
                }
                leaders[topic.name] = topicLeaders
            }
            // Explicit coordinators: otherwise the mock hashes the group name and we could not
            // tell which groups a broker's failure affects.
            for (i, group) in config.groups.enumerated() {
                let broker = ids[i % ids.count]
                try Self.check(rd_kafka_mock_coordinator_set(mc, "group", group, Int32(broker)),
                               "set coordinator of group \(group)")
                coordinators[group] = broker
            }
        } catch {
            rd_kafka_mock_cluster_destroy(mc)
            rd_kafka_destroy(rk)
            throw error
        }

        self.rk = rk
        self.mc = mc
        self.logger = logger
        self.bootstrap = bootstrap
        self.brokerIds = ids
        self.addresses = hosts.count == ids.count
            ? Dictionary(uniqueKeysWithValues: zip(ids, hosts)) : [:]
        self.partitionCount = config.partitions
        self.replicationFactor = rf
        self.pauseRttMs = config.pauseRttMs
        self.topicNames = TopicCatalog.all.map(\.name)
        self.leaders = leaders
        self.groups = config.groups
        self.coordinators = coordinators
    }

    /// The NUL-terminated text in a C error buffer.
    private static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Runs one mock control call (they block until the mock thread has applied them).
    ///
    /// The 1 ms pause works around a lost wake-up in librdkafka 2.0.2: a call issued right after
    /// the previous one returned can have its wake-up byte drained by the mock thread before it
    /// looks at its queue, and then waits for the mock's 1 s poll timeout (measured: about every
    /// other call without the pause, none in 200 with it, on a loaded 2-core machine).
    private static func check(_ call: @autoclosure () -> rd_kafka_resp_err_t,
                              _ what: @autoclosure () -> String) throws {
        usleep(1000)
        let err = call()
        guard err != RD_KAFKA_RESP_ERR_NO_ERROR else { return }
        throw Problem.mockFailed("\(what()): \(String(cString: rd_kafka_err2str(err)))")
    }

    // MARK: status

    private func isLive(_ id: Int) -> Bool { !down.contains(id) && !paused.contains(id) }

    func status() -> DevClusterStatus {
        var leaderCount: [Int: Int] = [:]
        for leaders in leaders.values { for l in leaders { leaderCount[l, default: 0] += 1 } }
        return DevClusterStatus(
            bootstrap: bootstrap,
            brokers: brokerIds.map { id in
                .init(id: id, address: addresses[id] ?? "",
                      state: down.contains(id) ? .down : paused.contains(id) ? .paused : .up,
                      rttMs: rtt[id] ?? 0, leaderCount: leaderCount[id] ?? 0)
            },
            topics: topicNames.map { name in
                .init(name: name, partitions: leaders[name]?.count ?? partitionCount, replicationFactor: replicationFactor,
                      leaders: leaders[name] ?? [])
            },
            coordinators: groups.map { .init(group: $0, broker: coordinators[$0] ?? 0) },
            pauseRttMs: pauseRttMs)
    }

    // MARK: extra topics

    /// Creates a topic outside the catalog (benchmarks, tests): the mock has no CreateTopics
    /// API in 2.0.2, so admin clients cannot do it themselves. Idempotent for the same shape.
    func createTopic(_ name: String, partitions: Int) throws -> DevClusterStatus {
        let mc = try liveHandle()
        if let existing = leaders[name] {
            guard existing.count == partitions else {
                throw Problem.conflict("topic \(name) exists with \(existing.count) partitions, not \(partitions)")
            }
            return status()
        }
        try Self.check(rd_kafka_mock_topic_create(mc, name, Int32(partitions), Int32(replicationFactor)), "create topic \(name)")
        let live = brokerIds.filter(isLive)
        var topicLeaders: [Int] = []
        for p in 0..<partitions {
            let leader = (live.isEmpty ? brokerIds : live)[p % max(1, live.isEmpty ? brokerIds.count : live.count)]
            try Self.check(rd_kafka_mock_partition_set_leader(mc, name, Int32(p), Int32(leader)), "set leader of \(name)[\(p)]")
            topicLeaders.append(leader)
        }
        leaders[name] = topicLeaders
        topicNames.append(name)
        return status()
    }

    // MARK: broker faults

    private func liveHandle() throws -> OpaquePointer {
        guard let mc else { throw Problem.unavailable("the dev cluster is shutting down") }
        return mc
    }

    private func resolve(_ target: BrokerTarget) throws -> [Int] {
        switch target {
        case .all: return brokerIds
        case .one(let id):
            guard brokerIds.contains(id) else {
                throw Problem.notFound("unknown broker id \(id): brokers are 1...\(brokerIds.count)")
            }
            return [id]
        }
    }

    private func result(_ action: String, _ ids: [Int], leaderMoves: [DevClusterLeaderMove] = [],
                        coordinatorMoves: [DevClusterCoordinatorMove] = []) -> DevClusterActionResult {
        DevClusterActionResult(action: action, brokers: ids, leaderMoves: leaderMoves,
                               coordinatorMoves: coordinatorMoves, status: status())
    }

    /// Models `docker pause`: the broker keeps its connections (and even processes requests:
    /// the mock appends produced records at once) but holds every response for `ms`.
    func pause(_ target: BrokerTarget, ms: Int?) throws -> DevClusterActionResult {
        let mc = try liveHandle()
        let ids = try resolve(target)
        let ms = ms ?? pauseRttMs
        for id in ids {
            try Self.check(rd_kafka_mock_broker_set_rtt(mc, Int32(id), Int32(ms)), "pause broker \(id)")
            paused.insert(id)
            rtt[id] = ms
        }
        logger.info("paused brokers \(ids): responses held for \(ms) ms")
        return result("pause", ids)
    }

    /// rtt back to 0: the mock re-checks every connection of the broker at once and sends the
    /// held responses, so clients whose requests have not timed out yet continue immediately.
    func resume(_ target: BrokerTarget) throws -> DevClusterActionResult {
        let mc = try liveHandle()
        let ids = try resolve(target)
        for id in ids {
            try Self.check(rd_kafka_mock_broker_set_rtt(mc, Int32(id), 0), "resume broker \(id)")
            paused.remove(id)
            rtt[id] = nil
        }
        logger.info("resumed brokers \(ids)")
        return result("resume", ids)
    }

    /// A slow network instead of a frozen broker: every response of the broker waits `ms`
    /// (0 restores), while the broker stays up for leadership moves. The kernel here has no
    /// netem, and the mock's rtt is the one delay that acts on the brokers' side alone.
    /// A paused broker is refused: its rtt is the pause, and resume is what ends it.
    func setRtt(_ target: BrokerTarget, ms: Int) throws -> DevClusterActionResult {
        let mc = try liveHandle()
        let ids = try resolve(target)
        if let busy = ids.first(where: paused.contains) {
            throw Problem.conflict("broker \(busy) is paused: resume it before setting its rtt")
        }
        for id in ids {
            try Self.check(rd_kafka_mock_broker_set_rtt(mc, Int32(id), Int32(ms)), "set rtt of broker \(id)")
            rtt[id] = ms == 0 ? nil : ms
        }
        logger.info("brokers \(ids): responses delayed by \(ms) ms")
        return result("rtt", ids)
    }

    /// Closes the broker's listener and connections: connects are refused. Leaders stay
    /// (the mock does no failover); see evacuate.
    func down(_ target: BrokerTarget) throws -> DevClusterActionResult {
        let mc = try liveHandle()
        let ids = try resolve(target)
        for id in ids {
            try Self.check(rd_kafka_mock_broker_set_down(mc, Int32(id)), "take broker \(id) down")
            down.insert(id)
        }
        logger.info("brokers \(ids) down")
        return result("down", ids)
    }

    func up(_ target: BrokerTarget) throws -> DevClusterActionResult {
        let mc = try liveHandle()
        let ids = try resolve(target)
        for id in ids {
            try Self.check(rd_kafka_mock_broker_set_up(mc, Int32(id)), "bring broker \(id) up")
            down.remove(id)
        }
        logger.info("brokers \(ids) up")
        return result("up", ids)
    }

    // MARK: leadership

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

    // MARK: lifecycle

    /// Destroys the mock (closing every broker socket) and the hosting handle. Idempotent.
    func shutdown() {
        guard let mc else { return }
        self.mc = nil
        rd_kafka_mock_cluster_destroy(mc)
        rd_kafka_destroy(rk)
        logger.info("mock cluster destroyed")
    }
}
