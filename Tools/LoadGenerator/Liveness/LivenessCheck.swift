/// Judges progress and recovery around each fault window. Pure: windows, order lives and
/// consumer samples in, a report out, so tests hand it doctored timelines.
enum LivenessCheck {
    struct Input: Sendable {
        var windows: [FaultWindow]
        var orders: [OrderLife]
        /// The intended time of the first send (the steady state runs from here to the first fault).
        var sendStart: Int64
        var partitionCount: Int32
        var samples: ConsumerSamples
        var recoveryBoundSeconds: Double
    }

    /// A steady state shorter than this gives no baseline rate.
    static let minimumBaselineMs: Int64 = 1000
    /// Untouched partitions confirming less than this share of their rate before the fault stalled.
    static let stallShare = 0.1
    /// A fault that cuts the flow brings the touched partitions below this share of their rate before it.
    static let cutShare = 0.25
    /// Fewer confirmations than this before the fault are no rate to show a cut against.
    static let minimumBaselineConfirmations = 10

    static func run(_ input: Input) -> LivenessReport {
        var report = LivenessReport(recoveryBoundSeconds: input.recoveryBoundSeconds, windows: [])
        if input.windows.isEmpty { report.notes.append("the fault windows file lists no fault") }
        if case .unavailable(let reason) = input.samples {
            report.notes.append("consumer lag after each heal not checked: \(reason)")
        }
        let baselineEnd = input.windows.first?.start ?? input.sendStart
        let baseline = baselineEnd - input.sendStart >= minimumBaselineMs ? (input.sendStart, baselineEnd) : nil
        if baseline == nil, !input.windows.isEmpty {
            report.notes.append("less than \(minimumBaselineMs / 1000) s of load before the first fault: no baseline rates")
        }
        report.windows = input.windows.map { window(input, $0, baseline: baseline) }
        return report
    }

    private static func window(_ input: Input, _ window: FaultWindow, baseline: (Int64, Int64)?) -> WindowLiveness {
        let touched = window.partitions.map(Set.init)
        let untouched: Set<Int32>? = touched.map { Set(0..<input.partitionCount).subtracting($0) }
        // Progress on what the fault does not touch; when it touches everything, on everything.
        let scopeOK: (Int32) -> Bool = { partition in
            guard let untouched, !untouched.isEmpty else { return true }
            return untouched.contains(partition)
        }
        let scope = switch untouched {
        case nil: "every partition (the fault touches all)"
        case let set? where set.isEmpty: "every partition (the fault touches all \(input.partitionCount))"
        case let set?: "untouched partitions (\(set.count) of \(input.partitionCount))"
        }

        func accepted(_ from: Int64, _ to: Int64) -> Int {
            input.orders.filter { $0.acceptedAt >= from && $0.acceptedAt < to }.count
        }
        func confirmed(_ from: Int64, _ to: Int64, _ include: (Int32) -> Bool) -> Int {
            input.orders.filter { order in
                guard order.outcome == .confirmed, let ended = order.endedAt else { return false }
                return ended >= from && ended < to && include(order.partition)
            }.count
        }
        func rate(_ count: Int, _ from: Int64, _ to: Int64) -> Double {
            to > from ? Double(count) * 1000 / Double(to - from) : 0
        }

        let acceptedDuring = accepted(window.start, window.end)
        let confirmedInScope = confirmed(window.start, window.end, scopeOK)
        var progress = WindowLiveness.Progress(
            acceptedPerSecond: rate(acceptedDuring, window.start, window.end),
            confirmedPerSecond: rate(confirmedInScope, window.start, window.end),
            scope: scope, stalled: false)
        if let (from, to) = baseline {
            progress.baselineAcceptedPerSecond = rate(accepted(from, to), from, to)
            let before = confirmed(from, to, scopeOK)
            progress.baselineConfirmedPerSecond = rate(before, from, to)
            progress.stalled = untouched.map { !$0.isEmpty } == true && before > 0
                && progress.confirmedPerSecond < stallShare * progress.baselineConfirmedPerSecond!
        }

        let overlapping = input.orders.filter { order in
            order.isTimeoutCancellation && order.acceptedAt <= window.end && (order.endedAt ?? .max) >= window.start
        }.count
        let within = input.orders.filter { order in
            order.isTimeoutCancellation && order.acceptedAt >= window.start && (order.endedAt ?? .max) <= window.end
        }.count

        var felt = WindowLiveness.Felt(evidence: window.evidence ?? [], missing: window.errors ?? [])
        if window.cut == true {
            let inTouched: (Int32) -> Bool = { partition in touched?.contains(partition) ?? true }
            let where_ = touched.map { "its \($0.count) partitions" } ?? "every partition"
            let during = rate(confirmed(window.start, window.end, inTouched), window.start, window.end)
            if let (from, to) = baseline, case let count = confirmed(from, to, inTouched), count >= minimumBaselineConfirmations {
                let before = rate(count, from, to)
                let measured = "confirmed \(format(during))/s on \(where_) during the fault against \(format(before))/s before"
                if during < cutShare * before {
                    felt.evidence.append("the flow was cut: " + measured)
                } else {
                    felt.missing.append("no cut: " + measured + " (a cut is below \(Int(cutShare * 100)) %)")
                }
            } else {
                felt.missing.append("the cut cannot be shown: fewer than \(minimumBaselineConfirmations) orders were confirmed on \(where_) before the fault")
            }
        }
        if felt.evidence.isEmpty, felt.missing.isEmpty {
            felt.missing.append("chaos.sh recorded no evidence of the fault")
        }

        return WindowLiveness(
            fault: window.fault, detail: window.detail, start: window.start, end: window.end, seconds: window.seconds,
            touchedPartitions: window.partitions, acceptedDuring: acceptedDuring,
            confirmedDuring: confirmed(window.start, window.end, { _ in true }),
            progress: progress, recovery: recovery(input, window), timeoutCancellations: overlapping, timeoutsWithin: within,
            felt: felt, restarts: .init(retries: window.restartRetries ?? 0, crashes: window.restartCrashes ?? []))
    }

    private static func recovery(_ input: Input, _ window: FaultWindow) -> WindowLiveness.Recovery {
        let healed = window.recoveryStart
        let before = input.orders.filter { $0.acceptedAt <= healed }
        let neverEnded = before.filter { $0.endedAt == nil }.count
        let ordersSeconds: Double? = neverEnded > 0 ? nil
            : Double(max(0, (before.compactMap(\.endedAt).max() ?? healed) - healed)) / 1000

        var lagSeconds: Double?
        var lagNotChecked: String?
        var lagNever = false
        switch input.samples {
        case .unavailable(let reason):
            lagNotChecked = reason
        case .samples(let samples):
            let after = samples.filter { $0.takenAt >= healed }.sorted { $0.takenAt < $1.takenAt }
            let groups = Set(samples.flatMap { $0.processed.keys })
            if let reference = after.first, !groups.isEmpty {
                if let caughtUp = after.first(where: { $0.caughtUp(with: reference, groups: groups) }) {
                    lagSeconds = Double(caughtUp.takenAt - healed) / 1000
                } else {
                    lagNever = true
                }
            } else {
                lagNotChecked = groups.isEmpty ? "no instance reported its consumer" : "no consumer sample after the heal"
            }
        }

        var seconds: Double?
        if let ordersSeconds, !lagNever { seconds = max(ordersSeconds, lagSeconds ?? 0) }
        var reason: String?
        if neverEnded > 0 {
            reason = "\(neverEnded) orders accepted before the heal never ended"
        } else if lagNever {
            reason = "the consumers never caught up with what was on their topics at the heal"
        } else if let seconds, seconds > input.recoveryBoundSeconds {
            reason = "recovery took \(format(seconds)) s, more than the \(format(input.recoveryBoundSeconds)) s bound"
        }
        return WindowLiveness.Recovery(
            ordersSeconds: ordersSeconds, ordersNeverEnded: neverEnded, lagSeconds: lagSeconds, lagNotChecked: lagNotChecked,
            seconds: seconds, hang: reason != nil, reason: reason)
    }

    private static func format(_ value: Double) -> String { TextReport.format(value) }
}
