import Testing
@testable import LoadGenerator

/// The run verdict on doctored runs: each test starts from a run that passes, then breaks one
/// thing the verdict must see. Times are unix ms.
@Suite("Run verdict")
struct RunJudgementTests {
    let diskFull = FaultWindow(fault: "disk-full", detail: "data/ full", start: 10_000, end: 20_000,
                               evidence: ["dd: No space left on device"])

    func felt(_ window: FaultWindow) -> LivenessReport {
        let orders = (0..<300).map { i in
            OrderLife(orderId: "O-\(i)", partition: Int32(i % 12), acceptedAt: Int64(i) * 100, endedAt: Int64(i) * 100 + 300, outcome: .confirmed)
        }
        return LivenessCheck.run(.init(windows: [window], orders: orders, sendStart: 0, partitionCount: 12,
                                       samples: .unavailable("not sampled"), recoveryBoundSeconds: 60))
    }

    @Test("a run with nothing wrong passes")
    func clean() {
        let run = judge(counts: RunCounts(sent: 10, accepted: 10, idempotentRetries: 2))
        #expect(run.verdict == .pass && run.failures.isEmpty)
    }

    @Test("a retried POST not answered with the first orderId, or an orderId given twice, is a violation")
    func idempotency() {
        let mismatch = judge(counts: RunCounts(sent: 10, accepted: 10, idempotentRetries: 2, idempotencyMismatches: 1))
        #expect(mismatch.verdict == .violation)
        #expect(mismatch.failures == ["1 idempotent retries were not answered 202 with the first answer's orderId"])
        let duplicate = judge(counts: RunCounts(sent: 10, accepted: 9, duplicateOrderIds: 1))
        #expect(duplicate.verdict == .violation && duplicate.failures.first?.contains("orderId already given") == true)
    }

    @Test("a 503 while a fault is on is explained by it; any other 5xx fails the run")
    func serverErrors() {
        let answers = [
            ServerErrorAnswer(status: 503, issuedAt: 12_000, answeredAt: 12_010, detail: "disk full"),
            ServerErrorAnswer(status: 503, issuedAt: 9_990, answeredAt: 10_020, detail: "in flight at the start"),
            ServerErrorAnswer(status: 503, issuedAt: 19_990, answeredAt: 20_100, detail: "in flight at the heal"),
        ]
        let explained = ServerErrorReport.judge(answers, windows: [diskFull])
        #expect(explained.explained == ["disk-full": 3] && explained.unexplainedCount == 0)
        #expect(judge(serverErrors: explained).verdict == .pass)

        let outside = ServerErrorAnswer(status: 503, issuedAt: 25_000, answeredAt: 25_010, detail: "after the heal")
        let crash = ServerErrorAnswer(status: 500, issuedAt: 12_000, answeredAt: 12_010, detail: "internal error")
        let report = ServerErrorReport.judge(answers + [outside, crash], windows: [diskFull])
        #expect(report.explained == ["disk-full": 3] && report.unexplained == ["500": 1, "503": 1])
        #expect(report.examples == ["503 at 25010 (no fault explains it): after the heal", "500 at 12010 (no fault explains it): internal error"])
        let run = judge(serverErrors: report)
        #expect(run.verdict == .violation)
        #expect(run.failures == ["2 POST /orders answered 5xx with no fault to explain it (500: 1, 503: 1)"])
        #expect(ServerErrorReport.judge(answers, windows: []).unexplainedCount == 3, "no fault window: nothing explains a 503")
    }

    @Test("a fault with no evidence, a failed injection, or a cut that did not show is not felt: the run is an ERROR")
    func notFelt() throws {
        var window = diskFull
        #expect(judge(liveness: felt(window), allowNotChecked: true).verdict == .pass)

        window.evidence = nil
        let silent = judge(liveness: felt(window), allowNotChecked: true)
        #expect(silent.verdict == .error)
        #expect(silent.failures == ["disk-full: the fault was not shown to be felt: chaos.sh recorded no evidence of the fault"])

        window.errors = ["iptables -A SAGA-x … failed (exit 4)"]
        #expect(try #require(felt(window).windows.first).felt.missing == ["iptables -A SAGA-x … failed (exit 4)"])
        #expect(judge(liveness: felt(window), allowNotChecked: true).verdict == .error)

        // Every order confirmed 300 ms after its 202 right through the window: no cut.
        var pause = FaultWindow(fault: "broker-pause-all", start: 10_000, end: 20_000, evidence: ["control call answered 200"], cut: true)
        let uncut = try #require(felt(pause).windows.first).felt
        #expect(uncut.missing == ["no cut: confirmed 10/s on every partition during the fault against 9.70/s before (a cut is below 25 %)"])
        pause.partitions = [0, 3]
        let stalled = (0..<300).map { i -> OrderLife in
            let accepted = Int64(i) * 100
            let cutOff = i % 12 % 3 == 0 && accepted >= 9_700 && accepted < 20_000
            return OrderLife(orderId: "O-\(i)", partition: Int32(i % 12), acceptedAt: accepted,
                             endedAt: cutOff ? 21_000 : accepted + 300, outcome: .confirmed)
        }
        let cut = LivenessCheck.run(.init(windows: [pause], orders: stalled, sendStart: 0, partitionCount: 12,
                                          samples: .unavailable("not sampled"), recoveryBoundSeconds: 60))
        let shown = try #require(cut.windows.first).felt
        #expect(shown.missing.isEmpty, "\(shown)")
        #expect(shown.evidence.last == "the flow was cut: confirmed 0/s on its 2 partitions during the fault against 1.70/s before")
    }

    @Test("a restart in which the service exited by itself fails the run; retries are reported")
    func restartCrashes() throws {
        var window = diskFull
        window.restartRetries = 1
        #expect(try #require(felt(window).windows.first).restarts == .init(retries: 1, crashes: []))
        window.restartCrashes = ["payment-0 exited during its start (attempt 1): fatal error"]
        let run = judge(liveness: felt(window), allowNotChecked: true)
        #expect(run.verdict == .error)
        #expect(run.failures == ["disk-full: the service exited by itself while restarting (1 times): payment-0 exited during its start (attempt 1): fatal error"])
    }

    @Test("orders the audit could not check (their records deleted by retention) fail the run unless allowed")
    func invariantNotChecked() {
        var terminal = InvariantResult(number: 1, title: "terminal", checkedWhat: "orders")
        terminal.checked = 10
        terminal.notCheckable("orders.v1 lost its oldest records")
        terminal.notCheckable("orders.v1 lost its oldest records")
        let audit = AuditResult(invariants: [terminal])
        #expect(audit.passed)
        let run = judge(audit: audit)
        #expect(run.notChecked == ["invariant 1: 2 orders not checked: orders.v1 lost its oldest records"])
        #expect(run.verdict == .error)
        #expect(judge(audit: audit, allowNotChecked: true).verdict == .pass)
    }

    @Test("a consumer lag that could not be measured after a heal is not checked, and fails the run unless allowed")
    func lagNotChecked() {
        let run = judge(liveness: felt(diskFull))
        #expect(run.notChecked == ["consumer lag after disk-full: not sampled"])
        #expect(run.verdict == .error && run.failures.last?.hasPrefix("not checked (--allow-not-checked accepts it)") == true)
        #expect(judge(liveness: felt(diskFull), allowNotChecked: true).verdict == .pass)
    }
}
