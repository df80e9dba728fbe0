import EventSchema
import Kafka
import SagaAPI
import Testing
@testable import LoadGenerator

/// Jepsen's Kafka anomaly classes on doctored post-drain snapshots: each test starts from a
/// world whose consumers processed everything, then breaks one thing.
@Suite("Anomalies")
struct AnomalyTests {
    static let groups: [(service: String, topics: [String])] = [
        ("order", ["inventory.v1", "payments.v1"]), ("inventory", ["orders.v1", "payments.v1"]),
        ("payment", ["inventory.v1", "orders.v1"]), ("notification", ["orders.v1"]),
    ]

    /// The consistent world, its topics' watermarks, and one caught-up instance per service
    /// whose /metrics expose the offset-gaps counter at 0.
    func caughtUp() -> SagaWorld {
        var world = SagaWorld.consistent()
        var high: [PartitionRef: Int64] = [:]
        for record in world.snapshot.records {
            let ref = PartitionRef(topic: record.topic, partition: record.partition)
            high[ref] = max(high[ref] ?? 0, record.offset + 1)
        }
        // A second, empty partition of every topic: nothing to process there.
        for topic in ["orders.v1", "inventory.v1", "payments.v1", "notifications.v1"] {
            high[PartitionRef(topic: topic, partition: 1)] = 0
        }
        world.snapshot.watermarks = high.mapValues { Watermarks(low: 0, high: $0) }
        world.snapshot.instances = Self.groups.map { group in
            let partitions = high.filter { group.topics.contains($0.key.topic) && $0.value > 0 }.sorted { $0.key < $1.key }.map {
                ConsumerView.Partition(topic: $0.key.topic, partition: $0.key.partition, lastProcessedOffset: $0.value - 1, assigned: true, held: nil)
            }
            return state("\(group.service)-0", .view(ConsumerView(group: group.service, instance: "\(group.service)-0", topics: group.topics, partitions: partitions)),
                         gaps: 0)
        }
        return world
    }

    func state(_ name: String, _ consumer: InstanceState.Consumer, gaps: Double?) -> InstanceState {
        let service = ServiceInstance.service(ofInstance: name)
        var metrics = [PrometheusSample(name: "messaging_skipped_total", labels: ["group": service, "reason": "inbox"], value: 2)]
        if let gaps { metrics.append(PrometheusSample(name: AnomalyCheck.offsetGapsMetric, labels: ["group": service], value: gaps)) }
        return InstanceState(instance: ServiceInstance(name: name, service: service, url: "http://127.0.0.1:1"), consumer: consumer, metrics: metrics)
    }

    func anomaly(_ world: SagaWorld, _ name: String) throws -> AnomalyResult {
        try #require(Auditor.audit(world.snapshot).anomalies.first { $0.name == name })
    }

    @Test("a world whose consumers processed every record has no anomaly")
    func caughtUpPasses() throws {
        let result = Auditor.audit(caughtUp().snapshot)
        #expect(result.passed, "\(result.anomalies)")
        #expect(result.anomalies.map(\.name) == ["lost", "duplicate", "poll skip", "nonmonotonic"])
        #expect(result.anomalies.allSatisfy { $0.notChecked == nil })
        #expect(result.duplicates?.skippedInbox == 8, "one row per instance, from the snapshot's metrics")
    }

    @Test("lost: a group that stopped short of a partition's end")
    func lostRecords() throws {
        var world = caughtUp()
        let index = try #require(world.snapshot.instances.firstIndex { $0.instance.service == "payment" })
        guard case .view(var view) = world.snapshot.instances[index].consumer else { Issue.record("no view"); return }
        let orders = try #require(view.partitions.firstIndex { $0.topic == "orders.v1" })
        view.partitions[orders].lastProcessedOffset -= 3
        world.snapshot.instances[index].consumer = .view(view)

        let lost = try anomaly(world, "lost")
        #expect(lost.count == 3)
        #expect(lost.examples.count == 1 && lost.examples[0].hasPrefix("group payment: orders.v1[0] holds records up to offset"), "\(lost.examples)")
        let result = Auditor.audit(world.snapshot)
        #expect(!result.passed && result.failedInvariants.isEmpty && result.failedAnomalies == ["lost"])
        #expect(result.violationCount == 3 && result.failureSummary == "anomalies lost")
    }

    @Test("lost: the highest offset over a service's instances counts, and a partition nobody stored counts from its start")
    func lostAcrossInstances() throws {
        var world = caughtUp()
        let index = try #require(world.snapshot.instances.firstIndex { $0.instance.service == "inventory" })
        guard case .view(let full) = world.snapshot.instances[index].consumer else { Issue.record("no view"); return }
        // Instance 0 reports nothing stored; instance 1 (same database) reports the offsets: no loss.
        world.snapshot.instances[index].consumer = .view(ConsumerView(group: "inventory", instance: "inventory-0", topics: full.topics, partitions: []))
        world.snapshot.instances.append(state("inventory-1", .view(ConsumerView(group: "inventory", instance: "inventory-1", topics: full.topics, partitions: full.partitions)), gaps: 0))
        #expect(try anomaly(world, "lost").count == 0)
        // Without instance 1 every stored record of its topics counts as lost.
        world.snapshot.instances.removeLast()
        let stored = full.partitions.reduce(Int64(0)) { $0 + $1.lastProcessedOffset + 1 }
        #expect(try anomaly(world, "lost").count == Int(stored))
    }

    @Test("lost: records below the log start are gone, not lost; held partitions are noted")
    func lostRespectsLogStart() throws {
        var world = caughtUp()
        let ref = PartitionRef(topic: "orders.v1", partition: 0)
        let high = try #require(world.snapshot.watermarks[ref]).high
        world.snapshot.watermarks[ref] = Watermarks(low: high - 2, high: high)
        let index = try #require(world.snapshot.instances.firstIndex { $0.instance.service == "notification" })
        world.snapshot.instances[index].consumer = .view(ConsumerView(group: "notification", instance: "notification-0", topics: ["orders.v1"],
            partitions: [.init(topic: "orders.v1", partition: 0, lastProcessedOffset: -1, assigned: true, held: "dead-letter topic unreachable")]))
        let lost = try anomaly(world, "lost")
        #expect(lost.count == 2, "only the two records still stored")
        #expect(lost.notes == ["notification-0 holds orders.v1[0] back: dead-letter topic unreachable"])
    }

    @Test("lost is not checked, and says why, when no instance has GET /consumer")
    func lostNotChecked() throws {
        var world = caughtUp()
        for index in world.snapshot.instances.indices { world.snapshot.instances[index].consumer = .missing }
        let lost = try anomaly(world, "lost")
        #expect(lost.notChecked == "endpoint missing: GET /consumer answered 404 on order-0, inventory-0, payment-0, notification-0")
        #expect(lost.passed && Auditor.audit(world.snapshot).passed, "not checked finds no anomaly")
        let run = judge(audit: Auditor.audit(world.snapshot))
        #expect(run.verdict == .error, "but it fails the run: \(run.failures)")
        #expect(run.notChecked.first == "lost: endpoint missing: GET /consumer answered 404 on order-0, inventory-0, payment-0, notification-0")
        let allowed = judge(audit: Auditor.audit(world.snapshot), allowNotChecked: true)
        #expect(allowed.verdict == .pass && allowed.failures.isEmpty && allowed.notChecked == run.notChecked,
                "unless the run was started with --allow-not-checked, and the report still lists it")

        // One service without it: checked for the others, and the gap said.
        world = caughtUp()
        world.snapshot.instances[1].consumer = .failed("connection refused")
        let partial = try anomaly(world, "lost")
        #expect(partial.notChecked == nil)
        #expect(partial.uncheckedParts == ["not checked for inventory: GET /consumer failed: inventory-0: connection refused"])
        #expect(judge(audit: Auditor.audit(world.snapshot)).verdict == .error, "one service unchecked fails the run too")
    }

    @Test("poll skip: an offset gap counted by any instance fails; a missing counter is not checked")
    func pollSkip() throws {
        var world = caughtUp()
        world.snapshot.instances[2] = state("payment-0", world.snapshot.instances[2].consumer, gaps: 2)
        let skip = try anomaly(world, "poll skip")
        #expect(skip.count == 2 && skip.examples == [#"payment-0: messaging_offset_gaps_total{group="payment"} = 2"#])
        #expect(Auditor.audit(world.snapshot).failedAnomalies == ["poll skip"])

        world = caughtUp()
        world.snapshot.instances = world.snapshot.instances.map { state($0.instance.name, $0.consumer, gaps: nil) }
        let missing = try anomaly(world, "poll skip")
        #expect(missing.notChecked == "counter missing: no instance exposes messaging_offset_gaps_total")
        #expect(judge(audit: Auditor.audit(world.snapshot)).failures.contains { $0.contains("poll skip: counter missing") })
        world.snapshot.instances[0] = state("order-0", world.snapshot.instances[0].consumer, gaps: 0)
        let partial = try anomaly(world, "poll skip")
        #expect(partial.notChecked == nil && partial.uncheckedParts.count == 3)
        #expect(judge(audit: Auditor.audit(world.snapshot)).verdict == .error)
    }

    @Test("duplicate and nonmonotonic count the invariants they mirror, once")
    func mirrorsOfInvariants() throws {
        var world = caughtUp()
        world.emit(.paymentCharged, "O-1")  // a second charge with a new event-id
        let duplicate = try anomaly(world, "duplicate")
        #expect(duplicate.count >= 1 && duplicate.sameAsInvariants == [3, 4])
        let result = Auditor.audit(world.snapshot)
        #expect(result.violationCount == result.invariants.reduce(0) { $0 + $1.violations }, "no double count")

        world = caughtUp()
        world.updateRecords(where: { $0.orderId == "O-1" && $0.eventType == .orderConfirmed }) { $0.sequence = 0 }
        #expect(try anomaly(world, "nonmonotonic").count == 1)

        world = caughtUp()
        world.redeliver(world.records(.orderConfirmed, of: "O-1")[0])
        let redelivered = try anomaly(world, "duplicate")
        #expect(redelivered.passed && redelivered.notes == ["1 records repeat an event-id already on their topic (published twice; absorbed by the inboxes)"])
    }

    @Test("the verdict: violations first, then hangs, then runs that could not be judged")
    func verdict() {
        var stuck = SagaWorld.consistent()
        stuck.stuck("O-9", lines: [.init(sku: "SKU-0001", quantity: 1)], total: 500)
        let stuckAudit = Auditor.audit(stuck.snapshot)
        #expect(stuckAudit.onlyStuck)
        var broken = stuck
        broken.adjustStock("SKU-0002") { $0.available -= 1 }
        let hang = LivenessReport(recoveryBoundSeconds: 5, windows: [], notes: [])

        #expect(judge(audit: Auditor.audit(caughtUp().snapshot), liveness: hang).verdict == .pass)
        #expect(judge(audit: stuckAudit, unfinished: 1, allowNotChecked: true).verdict == .hang)
        #expect(judge(audit: Auditor.audit(broken.snapshot), unfinished: 1).verdict == .violation)
        #expect(judge(auditError: "no broker").verdict == .error)
        #expect(judge(auditError: "no broker", unfinished: 3).verdict == .hang)
    }
}
