@testable import DevClusterTesting
import DevClusterAPI
import EventSchema
import Foundation
import SagaAPI
import XCTest

/// The dev cluster as scripts and services see it: a separate process, checked with kcat
/// (an independent client) and through its control API.
final class DevClusterTests: XCTestCase {
    private let topic = TopicCatalog.orders.name

    func testStartsWithEveryCatalogTopicAndKnownLeaders() throws {
        let cluster = try DevClusterHarness()
        defer { cluster.stop() }

        let metadata = try Kcat.metadata(cluster.bootstrap)
        XCTAssertEqual(metadata.brokers.map(\.id).sorted(), [1, 2, 3])
        let status = try cluster.status()
        XCTAssertEqual(status.bootstrap, cluster.bootstrap)
        XCTAssertEqual(status.brokers.map(\.state), [.up, .up, .up])
        for spec in TopicCatalog.all {
            let leaders = try XCTUnwrap(metadata.leaders(of: spec.name), "\(spec.name) missing from metadata")
            XCTAssertEqual(leaders.count, TopicCatalog.defaultPartitions, spec.name)
            XCTAssertEqual(status.topic(spec.name)?.leaders, leaders, "status and metadata disagree on \(spec.name)")
            XCTAssertEqual(status.topic(spec.name)?.replicationFactor, 3)
        }
        // Leaders spread evenly: 5 topics x 12 partitions over 3 brokers.
        XCTAssertEqual(status.brokers.map(\.leaderCount), [20, 20, 20])
        XCTAssertEqual(Set(status.coordinators.map(\.group)),
                       ["order", "inventory", "payment", "notification", "loadgen"])
    }

    func testBrokerAndPartitionFlags() throws {
        let cluster = try DevClusterHarness(brokers: 2, partitions: 4)
        defer { cluster.stop() }

        let metadata = try Kcat.metadata(cluster.bootstrap)
        XCTAssertEqual(metadata.brokers.map(\.id).sorted(), [1, 2])
        for spec in TopicCatalog.all {
            XCTAssertEqual(metadata.leaders(of: spec.name), [1, 2, 1, 2], spec.name)
        }
        let status = try cluster.status()
        XCTAssertEqual(status.topics.map(\.partitions), Array(repeating: 4, count: TopicCatalog.all.count))
        XCTAssertEqual(status.topics.first?.replicationFactor, 2)
    }

    func testEvacuateMovesEveryLeaderAndCoordinatorOffTheBroker() throws {
        let cluster = try DevClusterHarness()
        defer { cluster.stop() }

        let result = try cluster.evacuate(broker: 2, groups: ["kcat-probe"])
        XCTAssertEqual(result.leaderMoves.count, 20)
        XCTAssertTrue(result.leaderMoves.allSatisfy { $0.from == 2 && $0.to != 2 })
        let status = try cluster.status()
        XCTAssertEqual(status.broker(2)?.leaderCount, 0)
        XCTAssertEqual(status.broker(1)?.leaderCount, 30)
        XCTAssertFalse(status.topics.contains { $0.leaders.contains(2) })
        XCTAssertFalse(status.coordinators.contains { $0.broker == 2 }, "\(status.coordinators)")
        XCTAssertNotNil(status.coordinator(of: "kcat-probe"), "groups named in the request are managed from then on")

        let metadata = try Kcat.metadata(cluster.bootstrap)
        for topic in status.topics {
            XCTAssertEqual(metadata.leaders(of: topic.name), topic.leaders, "metadata disagrees on \(topic.name)")
        }

        // Moving leadership back: even spread again, as clients see it too.
        try cluster.rebalanceLeaders()
        let rebalanced = try cluster.status()
        XCTAssertEqual(rebalanced.brokers.map(\.leaderCount), [20, 20, 20])
        XCTAssertEqual(try Kcat.metadata(cluster.bootstrap).leaders(of: topic), rebalanced.topic(topic)?.leaders)
    }

    func testPauseHoldsResponsesAndResumeReleasesThem() throws {
        let cluster = try DevClusterHarness()
        defer { cluster.stop() }
        let partition = try partition(ledBy: 1, in: cluster)

        let paused = try cluster.pause(broker: 1)
        XCTAssertEqual(paused.status.broker(1)?.state, .paused)
        XCTAssertEqual(paused.status.broker(1)?.rttMs, paused.status.pauseRttMs)

        // A client that talks to the paused leader hangs, like against a `docker pause`d broker...
        let producer = try Kcat.start(["-P", "-b", cluster.bootstrap, "-t", topic, "-p", "\(partition)",
                                       "-X", "message.timeout.ms=25000"] + Kcat.quickClient,
                                      input: "during-pause\n")
        Thread.sleep(forTimeInterval: 1.5)
        XCTAssertTrue(producer.isRunning, "paused leader answered: \(producer.stderr)")

        // ...and continues at once on resume: the held responses are sent, no reconnect needed.
        let resumed = try cluster.resume(broker: 1)
        XCTAssertEqual(resumed.status.broker(1)?.state, .up)
        XCTAssertEqual(resumed.status.broker(1)?.rttMs, 0)
        let resumedAt = Date()
        let result = producer.wait(timeout: 15)
        XCTAssertEqual(result.status, 0, "producer after resume: \(result.stderr)")
        XCTAssertLessThan(Date().timeIntervalSince(resumedAt), 5, "producer took long after resume")

        let after = try Kcat.produce(cluster.bootstrap, topic: topic, partition: partition, lines: ["after-resume"])
        XCTAssertEqual(after.status, 0, after.stderr)
        let messages = try Kcat.consume(cluster.bootstrap, topic: topic, partition: partition)
        XCTAssertTrue(messages.contains("during-pause"), "\(messages)")
        XCTAssertEqual(messages.last, "after-resume")
    }

    /// The delay a chaos run uses instead of netem: every response of the broker waits, the
    /// broker stays up (not paused), and 0 ms makes it fast again.
    func testRttDelaysEveryResponseAndZeroRestoresIt() throws {
        let cluster = try DevClusterHarness()
        defer { cluster.stop() }
        let partition = try partition(ledBy: 1, in: cluster)
        let rtt = 3000

        let slowed = try cluster.setRtt(broker: "1", ms: rtt)
        XCTAssertEqual(slowed.action, "rtt")
        XCTAssertEqual(slowed.status.broker(1)?.state, .up, "a slow broker is not a paused one")
        XCTAssertEqual(slowed.status.broker(1)?.rttMs, rtt)
        XCTAssertEqual(slowed.status.broker(2)?.rttMs, 0)
        // The produce request to the slowed leader waits one rtt for its answer at least.
        let slow = try Kcat.produce(cluster.bootstrap, topic: topic, partition: partition, lines: ["slow"], timeout: 30)
        XCTAssertEqual(slow.status, 0, slow.stderr)
        XCTAssertGreaterThanOrEqual(slow.seconds, Double(rtt) / 1000, "a produce to the slowed leader answered within its rtt")

        XCTAssertEqual(try cluster.setRtt(broker: "1", ms: 0).status.broker(1)?.rttMs, 0)
        let fast = try Kcat.produce(cluster.bootstrap, topic: topic, partition: partition, lines: ["fast"], timeout: 30)
        XCTAssertEqual(fast.status, 0, fast.stderr)
        XCTAssertLessThan(fast.seconds, Double(rtt) / 1000, "the produce still waited after rtt 0")
        XCTAssertEqual(try Kcat.consume(cluster.bootstrap, topic: topic, partition: partition), ["slow", "fast"])

        let all = try cluster.setRtt(broker: "all", ms: 250)
        XCTAssertEqual(all.status.brokers.map(\.rttMs), [250, 250, 250])
        XCTAssertEqual(all.status.brokers.map(\.state), [.up, .up, .up])
        XCTAssertEqual(try cluster.setRtt(broker: "all", ms: 0).status.brokers.map(\.rttMs), [0, 0, 0])

        // A paused broker keeps its pause until resume; a missing or negative delay says what to give.
        try cluster.pause(broker: 2)
        let conflict = try cluster.call("POST", "/brokers/2/rtt?ms=100")
        XCTAssertEqual(conflict.status, 409, conflict.body)
        XCTAssertTrue(conflict.body.contains("resume it"), conflict.body)
        XCTAssertEqual(try cluster.status().broker(2)?.state, .paused)
        try cluster.resume(broker: 2)
        let missing = try cluster.call("POST", "/brokers/1/rtt")
        XCTAssertEqual(missing.status, 400)
        XCTAssertTrue(missing.body.contains("?ms=N"), missing.body)
        XCTAssertEqual(try cluster.call("POST", "/brokers/1/rtt?ms=-1").status, 400)
    }

    func testDownRefusesConnectionsAndUpRecovers() throws {
        let cluster = try DevClusterHarness()
        defer { cluster.stop() }
        let partition = try partition(ledBy: 1, in: cluster)

        XCTAssertEqual(try cluster.down(broker: 1).status.broker(1)?.state, .down)
        // The other brokers still answer metadata, which still names broker 1 (no failover).
        let metadata = try Kcat.metadata(cluster.bootstrap)
        XCTAssertEqual(metadata.brokers.count, 3)
        XCTAssertEqual(metadata.leaders(of: topic)?[partition], 1)

        let producer = try Kcat.start(["-P", "-b", cluster.bootstrap, "-t", topic, "-p", "\(partition)",
                                       "-X", "message.timeout.ms=25000"] + Kcat.quickClient,
                                      input: "during-down\n")
        Thread.sleep(forTimeInterval: 1.5)
        XCTAssertTrue(producer.isRunning, "a down leader accepted the message: \(producer.stderr)")

        XCTAssertEqual(try cluster.up(broker: 1).status.broker(1)?.state, .up)
        let upAt = Date()
        let result = producer.wait(timeout: 15)
        XCTAssertEqual(result.status, 0, "producer after up: \(result.stderr)")
        // Bounded by the client's reconnect backoff (quickClient: 500 ms max).
        XCTAssertLessThan(Date().timeIntervalSince(upAt), 5)

        XCTAssertEqual(try Kcat.produce(cluster.bootstrap, topic: topic, partition: partition, lines: ["after-up"]).status, 0)
        let messages = try Kcat.consume(cluster.bootstrap, topic: topic, partition: partition)
        XCTAssertEqual(messages, ["during-down", "after-up"])
    }

    func testDownThenEvacuateKeepsPartitionsWritable() throws {
        let cluster = try DevClusterHarness()
        defer { cluster.stop() }
        let partition = try partition(ledBy: 3, in: cluster)

        try cluster.down(broker: 3)
        let moved = try cluster.evacuate(broker: 3)
        XCTAssertFalse(moved.status.topics.contains { $0.leaders.contains(3) })

        let produced = try Kcat.produce(cluster.bootstrap, topic: topic, partition: partition,
                                        lines: ["after-failover"], timeout: 15)
        XCTAssertEqual(produced.status, 0, produced.stderr)
        XCTAssertEqual(try Kcat.consume(cluster.bootstrap, topic: topic, partition: partition), ["after-failover"])
    }

    func testErrorsAreProblemJSON() throws {
        let cluster = try DevClusterHarness()
        defer { cluster.stop() }

        func problem(_ method: String, _ path: String) throws -> Problem {
            let response = try cluster.call(method, path)
            let problem = try JSONDecoder().decode(Problem.self, from: Data(response.body.utf8))
            XCTAssertEqual(problem.status.code, response.status)
            return problem
        }
        let unknown = try problem("POST", "/brokers/9/pause")
        XCTAssertEqual(unknown.status.code, 404)
        XCTAssertTrue(unknown.detail.contains("unknown broker id 9"), unknown.detail)
        XCTAssertEqual(try problem("POST", "/brokers/one/down").status.code, 400)
        XCTAssertEqual(try problem("POST", "/brokers/1/pause?ms=-5").status.code, 400)
        XCTAssertEqual(try problem("POST", "/no/such/endpoint").status.code, 404)

        XCTAssertEqual(try cluster.call("POST", "/brokers/all/pause").status, 200)
        let nowhere = try problem("POST", "/brokers/1/evacuate")
        XCTAssertEqual(nowhere.status.code, 409, nowhere.detail)
        XCTAssertEqual(try cluster.call("POST", "/brokers/all/resume").status, 200)
        XCTAssertEqual(try cluster.status().brokers.map(\.state), [.up, .up, .up])
    }

    func testSigtermExitsZeroPromptly() throws {
        let cluster = try DevClusterHarness()
        let started = Date()
        XCTAssertEqual(cluster.stop(timeout: 10), 0, cluster.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 8)
    }

    /// A partition of `topic` whose leader is `broker`, from the control API.
    private func partition(ledBy broker: Int, in cluster: DevClusterHarness) throws -> Int {
        let leaders = try XCTUnwrap(try cluster.status().topic(topic)?.leaders)
        return try XCTUnwrap(leaders.firstIndex(of: broker), "broker \(broker) leads nothing in \(topic)")
    }
}
