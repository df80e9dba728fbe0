import Kafka
import Testing
@testable import LoadGenerator

/// The liveness check on doctored timelines: orders placed at a steady rate, a fault window,
/// and what the orders and consumers did around it. Times are unix ms from 0.
@Suite("Liveness")
struct LivenessTests {
    /// 10 orders/s from t = 0 for `seconds`, order i on partition i % 12, each confirmed 500 ms
    /// after its 202 unless `delay` says otherwise (nil: never ends).
    func orders(seconds: Int, delay: (Int, Int64, Int32) -> Int64? = { _, _, _ in 500 }) -> [OrderLife] {
        (0..<seconds * 10).map { i in
            let accepted = Int64(i) * 100
            let partition = Int32(i % 12)
            return OrderLife(orderId: "O-\(i)", partition: partition, acceptedAt: accepted,
                             endedAt: delay(i, accepted, partition).map { accepted + $0 }, outcome: .confirmed)
        }
    }

    func input(_ windows: [FaultWindow], _ orders: [OrderLife], samples: ConsumerSamples = .unavailable("endpoint missing"),
               bound: Double = 30) -> LivenessCheck.Input {
        .init(windows: windows, orders: orders, sendStart: 0, partitionCount: 12, samples: samples, recoveryBoundSeconds: bound)
    }

    /// Broker 1's partitions (0, 3, 6, 9) stall from 10 s to 20 s; what they hold ends 2 s after the heal.
    let brokerPause = FaultWindow(fault: "broker-pause", detail: "paused broker 1", start: 10_000, end: 20_000,
                                  brokers: [1], instances: [], partitions: [0, 3, 6, 9], evidence: ["control call answered 200"])

    func stalledOnBrokerOne(_ i: Int, _ accepted: Int64, _ partition: Int32) -> Int64? {
        guard partition % 3 == 0, accepted + 500 >= 10_000, accepted < 20_000 else { return 500 }
        return 22_000 - accepted
    }

    @Test("the steady state chaos.sh waits for: every partition has had ten orders confirmed, counted by the services' partitioner")
    func steadyState() {
        var byPartition: [Int32: [String]] = [:]
        var i = 0
        while byPartition.count < 12 || byPartition.values.contains(where: { $0.count < 10 }) {
            let id = "steady-\(i)"
            byPartition[Murmur2Partitioner.partition(forKey: id, partitionCount: 12), default: []].append(id)
            i += 1
        }
        let enough = byPartition.values.flatMap { Array($0.prefix(10)) }
        #expect(SteadyState.reached(confirmedOrderIds: enough, partitionCount: 12))
        let oneShort = enough.filter { $0 != byPartition[7]![0] }
        #expect(!SteadyState.reached(confirmedOrderIds: oneShort, partitionCount: 12), "partition 7 has nine")
        #expect(!SteadyState.reached(confirmedOrderIds: [], partitionCount: 12))
        #expect(!SteadyState.reached(confirmedOrderIds: enough, partitionCount: 0))
    }

    @Test("the windows file: one JSON object per line, blank lines skipped, mistakes named by line")
    func windowsFile() throws {
        let text = """
            {"fault":"cluster-stop","start":5000,"end":9000,"partitions":null}

            {"fault":"broker-pause","detail":"paused broker 1","start":1000,"end":2000,"brokers":[1],"instances":[],"partitions":[0,3]}
            """
        let windows = try FaultWindowFile.parse(text, source: "w.jsonl")
        #expect(windows.map(\.fault) == ["broker-pause", "cluster-stop"], "sorted by start")
        #expect(windows[0].partitions == [0, 3] && windows[1].partitions == nil && windows[1].seconds == 4)
        #expect(throws: LoadGenError.self) { try FaultWindowFile.parse("{\"fault\":\"x\"}", source: "w.jsonl") }
        do {
            _ = try FaultWindowFile.parse("\n{\"fault\":\"x\",\"start\":5,\"end\":4}", source: "w.jsonl")
            Issue.record("a window that ends before it starts was accepted")
        } catch {
            #expect("\(error)" == "w.jsonl line 2: fault x ends (4) before it starts (5)")
        }
        #expect(throws: LoadGenError.self) { try FaultWindowFile.load(path: "/nonexistent/fault-windows.jsonl") }
    }

    @Test("progress on the untouched partitions during the fault, against the steady state before it")
    func progressOnUntouchedPartitions() throws {
        let report = LivenessCheck.run(input([brokerPause], orders(seconds: 40, delay: stalledOnBrokerOne)))
        let window = try #require(report.windows.first)
        let progress = window.progress
        #expect(progress.scope == "untouched partitions (8 of 12)")
        #expect(progress.acceptedPerSecond == 10 && progress.baselineAcceptedPerSecond == 10)
        // 8 of 12 partitions keep confirming at 10/s × 8/12 ≈ 6.67/s.
        #expect(abs(progress.confirmedPerSecond - 6.7) < 0.1, "\(progress)")
        #expect(abs(try #require(progress.baselineConfirmedPerSecond) - 6.3) < 0.1, "the first 500 ms confirm nothing")
        #expect(!progress.stalled)
        #expect(window.acceptedDuring == 100 && window.confirmedDuring == 67)
        #expect(report.notes == ["consumer lag after each heal not checked: endpoint missing"])
    }

    @Test("untouched partitions that confirm less than a tenth of their earlier rate are flagged STALLED")
    func stalledUntouched() throws {
        // The relay pinned by one partition: nothing confirms anywhere until the heal.
        let pinned = orders(seconds: 40) { _, accepted, _ in
            accepted + 500 >= 10_000 && accepted < 20_000 ? 21_000 - accepted : 500
        }
        let window = try #require(LivenessCheck.run(input([brokerPause], pinned)).windows.first)
        #expect(window.progress.confirmedPerSecond == 0 && window.progress.stalled)
        #expect(!window.recovery.hang && window.recovery.ordersSeconds == 1)
        // A trickle of one in twenty untouched orders is still a stall; one in five is progress.
        for (every, stalled) in [(20, true), (5, false)] {
            let trickle = orders(seconds: 40) { i, accepted, _ in
                accepted + 500 >= 10_000 && accepted < 20_000 && i % every != 0 ? 21_000 - accepted : 500
            }
            #expect(try #require(LivenessCheck.run(input([brokerPause], trickle)).windows.first).progress.stalled == stalled, "1 in \(every)")
        }
    }

    @Test("a fault that touches every partition reports progress on all of them and never flags a stall")
    func everyPartition() throws {
        var cut = brokerPause
        cut.partitions = nil
        let window = try #require(LivenessCheck.run(input([cut], orders(seconds: 40) { _, accepted, _ in
            accepted + 500 >= 10_000 && accepted < 20_000 ? 21_000 - accepted : 500
        })).windows.first)
        #expect(window.progress.scope == "every partition (the fault touches all)")
        #expect(window.progress.confirmedPerSecond == 0 && !window.progress.stalled)
    }

    @Test("recovery: orders terminal 2 s after the heal, consumers caught up at 3 s; past the bound it is a HANG")
    func recovery() throws {
        let lives = orders(seconds: 40, delay: stalledOnBrokerOne)
        let ref = PartitionRef(topic: "orders.v1", partition: 0)
        func sample(_ at: Int64, processed: Int64, high: Int64) -> ConsumerSample {
            ConsumerSample(takenAt: at, processed: ["payment": [ref: processed]], topics: ["payment": ["orders.v1"]],
                           highWatermarks: [ref: high, PartitionRef(topic: "payments.v1", partition: 0): 7])
        }
        // At the heal orders.v1[0] ends at 100; the group reaches 99 at 23 s (later records keep coming).
        let samples = ConsumerSamples.samples([
            sample(19_000, processed: 40, high: 95), sample(20_100, processed: 50, high: 100),
            sample(21_000, processed: 80, high: 104), sample(23_000, processed: 99, high: 110),
        ])
        let window = try #require(LivenessCheck.run(input([brokerPause], lives, samples: samples)).windows.first)
        #expect(window.recovery.ordersSeconds == 2)
        #expect(window.recovery.lagSeconds == 3)
        #expect(window.recovery.seconds == 3 && !window.recovery.hang && window.recovery.lagNotChecked == nil)

        let tight = try #require(LivenessCheck.run(input([brokerPause], lives, samples: samples, bound: 2.5)).windows.first)
        #expect(tight.recovery.hang && tight.recovery.reason == "recovery took 3 s, more than the 2.50 s bound")
    }

    @Test("a heal that takes time of its own (a clock fault's restarts): recovery is measured from its end")
    func recoveryFromTheEndOfALongHeal() throws {
        // Every order accepted from 10 s until the restarts end at 25 s ends at 27 s.
        let lives = orders(seconds: 40) { _, accepted, _ in accepted >= 10_000 && accepted < 25_000 ? 27_000 - accepted : 500 }
        var clock = FaultWindow(fault: "clock-ahead:payment", detail: "payment +600 s", start: 10_000, end: 14_000,
                                brokers: [], instances: ["payment-0"], partitions: nil)
        let fromEnd = try #require(LivenessCheck.run(input([clock], lives, bound: 10)).windows.first)
        #expect(fromEnd.recovery.ordersSeconds == 13 && fromEnd.recovery.hang, "without the heal's end: 13 s after the window")
        clock.healed = 25_000
        let fromHeal = try #require(LivenessCheck.run(input([clock], lives, bound: 10)).windows.first)
        #expect(fromHeal.recovery.ordersSeconds == 2 && !fromHeal.recovery.hang)
        #expect(fromHeal.seconds == 4, "the window itself stays the time on the fake clock")
        let parsed = try FaultWindowFile.parse(#"{"fault":"clock-ahead:payment","start":10000,"end":14000,"healed":25000}"#, source: "w")
        #expect(parsed.first?.recoveryStart == 25_000)
    }

    @Test("consumers that never catch up, or orders that never end, are a HANG whatever the bound")
    func neverRecovers() throws {
        let ref = PartitionRef(topic: "orders.v1", partition: 0)
        let behind = ConsumerSamples.samples([20_500, 30_000, 60_000].map {
            ConsumerSample(takenAt: $0, processed: ["inventory": [ref: 10]], topics: ["inventory": ["orders.v1"]], highWatermarks: [ref: 100])
        })
        let lagging = try #require(LivenessCheck.run(input([brokerPause], orders(seconds: 40), samples: behind)).windows.first)
        #expect(lagging.recovery.hang && lagging.recovery.seconds == nil)
        #expect(lagging.recovery.reason == "the consumers never caught up with what was on their topics at the heal")
        let report = LivenessCheck.run(input([brokerPause], orders(seconds: 40, delay: { i, _, _ in i == 150 ? nil : 500 })))
        let stuck = try #require(report.windows.first)
        #expect(report.hang && stuck.recovery.ordersNeverEnded == 1 && stuck.recovery.ordersSeconds == nil)
        #expect(stuck.recovery.reason == "1 orders accepted before the heal never ended")
        // An order placed after the heal that never ends is the drain's to report, not this fault's.
        let late = LivenessCheck.run(input([brokerPause], orders(seconds: 40, delay: { i, _, _ in i == 390 ? nil : 500 })))
        #expect(!late.hang)
    }

    @Test("saga timeouts whose order's life overlaps the fault are counted, others not")
    func timeoutsDuringTheFault() throws {
        func cancelled(_ id: String, _ accepted: Int64, _ ended: Int64) -> OrderLife {
            OrderLife(orderId: id, partition: 1, acceptedAt: accepted, endedAt: ended, outcome: .cancelled(reason: "timeout"))
        }
        let lives = orders(seconds: 40) + [
            cancelled("T-before", 1_000, 9_000), cancelled("T-spans", 5_000, 35_000), cancelled("T-inside", 12_000, 42_000),
            cancelled("T-after", 21_000, 51_000),
            OrderLife(orderId: "OOS", partition: 1, acceptedAt: 12_000, endedAt: 12_100, outcome: .cancelled(reason: "out_of_stock")),
        ]
        #expect(try #require(LivenessCheck.run(input([brokerPause], lives)).windows.first).timeoutCancellations == 2)
    }

    @Test("a saga timeout during a clock fault is a violation; during any other fault it is only reported")
    func timeoutsDuringAClockFault() throws {
        let timedOut = OrderLife(orderId: "T", partition: 1, acceptedAt: 12_000, endedAt: 18_000, outcome: .cancelled(reason: "timeout"))
        let lives = orders(seconds: 40) + [timedOut]
        let clock = FaultWindow(fault: "clock-ahead:payment", detail: "payment +600 s", start: 10_000, end: 20_000,
                                brokers: [], instances: ["payment-0"], partitions: nil)
        let skewed = LivenessCheck.run(input([clock], lives))
        #expect(skewed.skewCancellations.map(\.count) == [1])
        #expect(judge(liveness: skewed).verdict == .violation)
        let paused = LivenessCheck.run(input([brokerPause], lives))
        #expect(paused.skewCancellations.isEmpty)
        #expect(judge(liveness: paused, allowNotChecked: true).verdict == .pass)
        #expect(LivenessCheck.run(input([clock], orders(seconds: 40))).skewCancellations.isEmpty)
        // Placed before the window (during the restart onto the fake clock) or cancelled after
        // it (during the restart back): the restart's, reported only.
        let restarts = orders(seconds: 40) + [
            OrderLife(orderId: "R-in", partition: 1, acceptedAt: 9_000, endedAt: 17_000, outcome: .cancelled(reason: "timeout")),
            OrderLife(orderId: "R-out", partition: 1, acceptedAt: 15_000, endedAt: 23_000, outcome: .cancelled(reason: "timeout")),
        ]
        let restarted = LivenessCheck.run(input([clock], restarts))
        #expect(restarted.skewCancellations.isEmpty)
        #expect(try #require(restarted.windows.first).timeoutCancellations == 2)
    }

    @Test("a fault right at the start leaves no baseline, and says so")
    func noBaseline() throws {
        var early = brokerPause
        early.start = 500
        let report = LivenessCheck.run(input([early], orders(seconds: 30)))
        #expect(report.windows[0].progress.baselineConfirmedPerSecond == nil && !report.windows[0].progress.stalled)
        #expect(report.notes.contains("less than 1 s of load before the first fault: no baseline rates"))
        #expect(LivenessCheck.run(input([], orders(seconds: 3))).notes.first == "the fault windows file lists no fault")
    }

    @Test("sample helpers: catching up means every consumed partition reached the reference's end")
    func caughtUp() {
        let a = PartitionRef(topic: "orders.v1", partition: 0), b = PartitionRef(topic: "payments.v1", partition: 0)
        let reference = ConsumerSample(takenAt: 0, processed: [:], topics: ["order": ["payments.v1"], "inventory": ["orders.v1", "payments.v1"]],
                                       highWatermarks: [a: 10, b: 5])
        var now = ConsumerSample(takenAt: 1, processed: ["order": [b: 4], "inventory": [a: 9, b: 4]], topics: [:], highWatermarks: [:])
        #expect(now.caughtUp(with: reference, groups: ["order", "inventory"]))
        now.processed["inventory"]?[a] = 8
        #expect(!now.caughtUp(with: reference, groups: ["order", "inventory"]))
        #expect(now.caughtUp(with: reference, groups: ["order"]))
        #expect(!now.caughtUp(with: reference, groups: ["order", "payment"]), "a group no instance reported is not caught up")
    }
}
