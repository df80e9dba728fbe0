import Foundation

/// The human-readable report.
enum TextReport {
    static func render(_ report: RunReport) -> String {
        var out: [String] = []
        let c = report.counts
        out.append("loadgen run: \(report.config.plannedOrders) orders planned at \(format(report.config.rate))/s against \(report.config.services.order)")
        out.append("  sent \(c.sent) in \(format(report.sendSeconds)) s: achieved \(format(report.achievedRate)) orders/s")
        out.append("  accepted \(c.accepted), errors \(report.errors) (rejected \(describe(c.rejected)), no answer \(c.failed), idempotency mismatches \(c.idempotencyMismatches) of \(c.idempotentRetries) retries, duplicate orderIds \(c.duplicateOrderIds))")
        for example in report.errorExamples { out.append("    - \(example)") }
        let server = report.serverErrors
        if server.explainedCount + server.unexplainedCount > 0 {
            let explained = server.explained.sorted { $0.key < $1.key }.map { "\($0.value) during \($0.key)" }.joined(separator: ", ")
            out.append("  5xx: \(server.explainedCount) answers 503 explained by a fault\(explained.isEmpty ? "" : " (\(explained))"), \(server.unexplainedCount) not explained (\(describe(server.unexplained)))")
            for example in server.examples { out.append("    - \(example)") }
        }
        out.append("  confirmed \(c.confirmed), cancelled \(c.cancelled.values.reduce(0, +)) (\(describe(c.cancelled))), notified \(c.notified); resolved through the HTTP API \(c.resolvedByAPI)")
        if c.conflictingTerminalEvents + c.repeatedNotifications > 0 {
            out.append("  followed events: \(c.conflictingTerminalEvents) extra terminal events, \(c.repeatedNotifications) extra notifications (different event-ids)")
        }
        out.append("")
        out.append("latency (ms)            count      p50      p90      p99    p99.9      max")
        for (label, s) in report.latencyMs.rows {
            out.append(pad(label, 20) + [String(s.count), format(s.p50), format(s.p90), format(s.p99), format(s.p999), format(s.max)]
                .map { leftPad($0, 9) }.joined())
        }
        out.append("  (from the intended send time, except accepted→confirmed: from the 202 to OrderConfirmed)")
        out.append("")
        out.append("scenarios               sent accepted  matched mismatch unfinished  expected")
        for s in report.scenarios {
            out.append(pad(s.scenario.rawValue, 20) + [s.sent, s.accepted, s.matched, s.mismatched, s.unfinished]
                .map { leftPad(String($0), 9) }.joined() + "  " + s.expected)
            for example in s.examples { out.append("    - \(example)") }
        }
        out.append("  (a mismatch is not an invariant violation: a saga timeout may cancel any order)")
        out.append("")
        out.append("drain: \(format(report.drain.seconds)) s, \(report.drain.unfinished) orders unfinished")
        for example in report.drain.unfinishedExamples { out.append("    - \(example)") }
        if let audit = report.audit {
            out.append("")
            out.append(render(audit))
        }
        if let liveness = report.liveness {
            out.append("")
            out.append(render(liveness))
        }
        if !report.notChecked.isEmpty {
            out.append("")
            out.append(report.config.allowNotChecked ? "not checked, allowed by --allow-not-checked:" : "not checked (each fails the run):")
            for item in report.notChecked { out.append("  - \(item)") }
        } else if report.config.allowNotChecked {
            out.append("")
            out.append("--allow-not-checked was given; every check ran")
        }
        out.append("")
        out.append(report.failures.isEmpty ? "RESULT: PASS"
                                           : "RESULT: FAIL (\(report.verdict.rawValue)): " + report.failures.joined(separator: "; "))
        return out.joined(separator: "\n")
    }

    static func render(_ liveness: LivenessReport) -> String {
        var out = ["liveness: \(liveness.windows.count) fault windows, recovery bound \(format(liveness.recoveryBoundSeconds)) s"
                   + (liveness.hang ? ": HANG" : "")]
        for window in liveness.windows {
            let p = window.progress
            out.append("  [\(window.recovery.hang ? "HANG" : "ok")] \(window.fault) for \(format(window.seconds)) s"
                       + (window.detail.map { ": \($0)" } ?? ""))
            out.append("        during the fault: accepted \(format(p.acceptedPerSecond))/s (before: \(p.baselineAcceptedPerSecond.map(format) ?? "n/a")), "
                       + "confirmed \(format(p.confirmedPerSecond))/s on \(p.scope) (before: \(p.baselineConfirmedPerSecond.map(format) ?? "n/a"))"
                       + (p.stalled ? ": STALLED" : ""))
            let r = window.recovery
            var recovery = "        recovery: " + (r.seconds.map { "\(format($0)) s" } ?? "none")
            recovery += " (orders terminal: " + (r.ordersSeconds.map { "\(format($0)) s" } ?? "\(r.ordersNeverEnded) never") + ", consumer lag 0: "
            recovery += (r.lagSeconds.map { "\(format($0)) s" } ?? (r.lagNotChecked.map { "not checked: \($0)" } ?? "never")) + ")"
            out.append(recovery)
            if let reason = r.reason { out.append("        - \(reason)") }
            out.append("        felt: " + (window.felt.missing.isEmpty ? "yes" : "NOT SHOWN"))
            for evidence in window.felt.evidence { out.append("        + \(evidence)") }
            for missing in window.felt.missing { out.append("        - \(missing)") }
            if window.restarts.retries > 0 || !window.restarts.crashes.isEmpty {
                out.append("        restarts that needed retries: \(window.restarts.retries); crashes: \(window.restarts.crashes.count)")
                for crash in window.restarts.crashes { out.append("        - \(crash)") }
            }
            out.append("        cancelled by the saga deadline while the fault was on: \(window.timeoutCancellations)")
        }
        for note in liveness.notes { out.append("  note: \(note)") }
        return out.joined(separator: "\n")
    }

    static func render(_ audit: AuditResult) -> String {
        var out: [String] = []
        let unchecked = audit.invariants.reduce(0) { $0 + $1.unchecked }
        out.append(!audit.passed ? "audit: FAILED, \(audit.violationCount) violations of \(audit.failureSummary)"
                   : unchecked > 0 ? "audit: no violation found, but \(unchecked) things could not be checked (below)"
                   : "audit: PASSED, every invariant holds")
        for invariant in audit.invariants {
            out.append("  [\(invariant.passed ? "ok" : "FAIL")] \(invariant.number). \(invariant.title)")
            out.append("        \(invariant.checked) \(invariant.checkedWhat) checked, \(invariant.violations) violations")
            if invariant.unchecked > 0 {
                out.append("        \(invariant.unchecked) not checked: \(invariant.uncheckedWhy ?? "no reason given")")
            }
            for example in invariant.examples { out.append("        - \(example)") }
            if invariant.violations > invariant.examples.count {
                out.append("        … and \(invariant.violations - invariant.examples.count) more")
            }
            for note in invariant.notes { out.append("        note: \(note)") }
        }
        if !audit.anomalies.isEmpty { out.append("  anomalies (Jepsen's Kafka classes, at the services' level):") }
        for anomaly in audit.anomalies {
            let status = anomaly.notChecked != nil ? "NOT CHECKED" : !anomaly.passed ? "FAIL" : anomaly.uncheckedParts.isEmpty ? "ok" : "PART"
            var line = "  [\(status)] \(anomaly.name): \(anomaly.meaning)"
            if let why = anomaly.notChecked { line += "\n        not checked: \(why)" } else { line += "\n        \(anomaly.count) found" }
            out.append(line)
            for part in anomaly.uncheckedParts { out.append("        not checked: \(part)") }
            for example in anomaly.examples { out.append("        - \(example)") }
            for note in anomaly.notes { out.append("        note: \(note)") }
        }
        for note in audit.notes { out.append("  note: \(note)") }
        if let duplicates = audit.duplicates {
            out.append("  duplicates absorbed by the consumers: \(format(duplicates.skippedOffset)) by offset, \(format(duplicates.skippedInbox)) by inbox; dead-lettered: \(format(duplicates.deadLettered))")
            for service in duplicates.services {
                if let error = service.error {
                    out.append("    \(pad(service.service, 16)) metrics unavailable: \(error)")
                } else {
                    out.append("    \(pad(service.service, 16)) offset \(format(service.skippedOffset)), inbox \(format(service.skippedInbox)), dead-lettered \(format(service.deadLettered))")
                }
            }
        }
        return out.joined(separator: "\n")
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(format: value < 10 ? "%.2f" : "%.1f", value)
    }

    private static func describe(_ counts: [String: Int]) -> String {
        counts.isEmpty ? "0" : counts.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    private static func leftPad(_ text: String, _ width: Int) -> String {
        text.count >= width ? " " + text : String(repeating: " ", count: width - text.count) + text
    }
}
