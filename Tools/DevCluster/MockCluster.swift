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
///
/// Where the parts are: this file creates the cluster and reports its status;
/// `MockCluster+BrokerFaults.swift` pauses, slows, stops and restarts brokers, and
/// `MockCluster+Leadership.swift` moves leaders and coordinators.
actor MockCluster {
    private let rk: OpaquePointer
    /// nil once shut down.
    private var mc: OpaquePointer?
    let logger: Logger

    let bootstrap: String
    let brokerIds: [Int]
    private let addresses: [Int: String]
    private let partitionCount: Int
    private let replicationFactor: Int
    let pauseRttMs: Int

    var down: Set<Int> = []
    var rtt: [Int: Int] = [:]  // broker -> ms; absent = 0
    var paused: Set<Int> = []
    var topicNames: [String]
    var leaders: [String: [Int]]
    var groups: [String]
    var coordinators: [String: Int]

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
    /// looks at its queue, and then waits for the mock's 1 s poll timeout. How often, with and
    /// without the pause: `deploy/bench/results/2026-11-22-client-design.md`.
    static func check(_ call: @autoclosure () -> rd_kafka_resp_err_t,
                      _ what: @autoclosure () -> String) throws {
        usleep(1000)
        let err = call()
        guard err != RD_KAFKA_RESP_ERR_NO_ERROR else { return }
        throw Problem.mockFailed("\(what()): \(String(cString: rd_kafka_err2str(err)))")
    }

    // MARK: status

    func isLive(_ id: Int) -> Bool { !down.contains(id) && !paused.contains(id) }

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

    // MARK: helpers of the controls

    func liveHandle() throws -> OpaquePointer {
        guard let mc else { throw Problem.unavailable("the dev cluster is shutting down") }
        return mc
    }

    func resolve(_ target: BrokerTarget) throws -> [Int] {
        switch target {
        case .all: return brokerIds
        case .one(let id):
            guard brokerIds.contains(id) else {
                throw Problem.notFound("unknown broker id \(id): brokers are 1...\(brokerIds.count)")
            }
            return [id]
        }
    }

    func result(_ action: String, _ ids: [Int], leaderMoves: [DevClusterLeaderMove] = [],
                coordinatorMoves: [DevClusterCoordinatorMove] = []) -> DevClusterActionResult {
        DevClusterActionResult(action: action, brokers: ids, leaderMoves: leaderMoves,
                               coordinatorMoves: coordinatorMoves, status: status())
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
