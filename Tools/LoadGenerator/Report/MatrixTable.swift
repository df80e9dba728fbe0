import Foundation

/// The fault matrix: one row per fault class, from the reports of the runs chaos.sh made.
struct MatrixTable: Sendable, Codable, Equatable {
    struct Row: Sendable, Codable, Equatable {
        var fault: String
        var verdict: String
        /// Orders accepted in the run.
        var orders: Int?
        /// Invariant violations plus lost records and poll skips.
        var violations: Int?
        /// Orders cancelled for the saga deadline: in the whole run, and those whose life overlaps the fault.
        var cancelledByTimeout: Int?
        var timeoutDuringFault: Int?
        var acceptedPerSecond: Double?
        var baselineAcceptedPerSecond: Double?
        var confirmedPerSecond: Double?
        var baselineConfirmedPerSecond: Double?
        /// "every partition" or "8 of 12 untouched partitions".
        var progressScope: String?
        var stalled: Bool
        /// From the heal until orders are terminal and lag is 0; nil: not measured or never.
        var recoverySeconds: Double?
        var hang: Bool
        var duplicatesAbsorbed: Int?
        /// Retries that were not answered 202 with the first orderId; orderIds given to two requests.
        var idempotencyMismatches: Int?
        var duplicateOrderIds: Int?
        /// 5xx answers a fault explains (503 while it was on), and the others (each fails the run).
        var serverErrorsExplained: Int?
        var serverErrorsUnexplained: Int?
        /// Anomaly classes and measurements that could not be checked, and why.
        var notChecked: [String]
        /// The run was started with --allow-not-checked: `notChecked` did not fail it.
        var notCheckedAllowed: Bool
        /// What showed the fault was felt, and what was missing (each fails the cell).
        var felt: [String]
        var notFelt: [String]
        /// Restarts of the fault that needed more than one start, and the starts the service crashed.
        var restartRetries: Int
        var restartCrashes: [String]
        /// Why the run failed.
        var failures: [String]
    }

    var title: String
    var rows: [Row]

    static func row(fault: String, report: RunReport?, missing: String? = nil) -> Row {
        guard let report else {
            return Row(fault: fault, verdict: Verdict.error.rawValue, stalled: false, hang: false, notChecked: [],
                       notCheckedAllowed: false, felt: [], notFelt: [], restartRetries: 0, restartCrashes: [],
                       failures: [missing ?? "no report"])
        }
        var row = Row(fault: fault, verdict: report.verdict.rawValue, orders: report.counts.accepted,
                      violations: report.audit?.violationCount, cancelledByTimeout: report.counts.cancelled["timeout"] ?? 0,
                      stalled: false, hang: false,
                      idempotencyMismatches: report.counts.idempotencyMismatches, duplicateOrderIds: report.counts.duplicateOrderIds,
                      serverErrorsExplained: report.serverErrors.explainedCount,
                      serverErrorsUnexplained: report.serverErrors.unexplainedCount,
                      notChecked: report.notChecked, notCheckedAllowed: report.config.allowNotChecked,
                      felt: [], notFelt: [], restartRetries: 0, restartCrashes: [], failures: report.failures)
        if let audit = report.audit {
            row.duplicatesAbsorbed = audit.duplicates.map { Int($0.skippedOffset + $0.skippedInbox) }
        }
        if let liveness = report.liveness {
            // A cell has one fault; a rotation run has several: show the slowest recovery.
            let windows = liveness.windows
            if let worst = windows.max(by: { ($0.recovery.hang ? Double.infinity : $0.recovery.seconds ?? 0) < ($1.recovery.hang ? Double.infinity : $1.recovery.seconds ?? 0) }) {
                let p = worst.progress
                row.acceptedPerSecond = p.acceptedPerSecond
                row.baselineAcceptedPerSecond = p.baselineAcceptedPerSecond
                row.confirmedPerSecond = p.confirmedPerSecond
                row.baselineConfirmedPerSecond = p.baselineConfirmedPerSecond
                row.progressScope = p.scope
                row.stalled = p.stalled
                row.recoverySeconds = worst.recovery.seconds
            }
            row.hang = liveness.hang
            row.timeoutDuringFault = windows.reduce(0) { $0 + $1.timeoutCancellations }
            row.felt = windows.flatMap(\.felt.evidence)
            row.notFelt = windows.flatMap(\.felt.missing)
            row.restartRetries = windows.reduce(0) { $0 + $1.restarts.retries }
            row.restartCrashes = windows.flatMap(\.restarts.crashes)
        }
        return row
    }

    func render() -> String {
        let header = ["fault", "verdict", "felt", "orders", "violations", "5xx (fault)", "timeout (fault)", "accepted/s fault|before",
                      "confirmed/s fault|before", "recovery", "duplicates", "restart retries"]
        var lines = [[String]]()
        for row in rows {
            let confirmed = Self.pair(row.confirmedPerSecond, row.baselineConfirmedPerSecond)
                + (row.progressScope?.hasPrefix("untouched") == true ? " untouched" : "") + (row.stalled ? " STALLED" : "")
            lines.append([
                row.fault, row.verdict, row.felt.isEmpty && row.notFelt.isEmpty ? "-" : row.notFelt.isEmpty ? "yes" : "NO",
                row.orders.map(String.init) ?? "-", row.violations.map(String.init) ?? "-",
                row.serverErrorsUnexplained.map { "\($0) (\(row.serverErrorsExplained ?? 0))" } ?? "-",
                row.cancelledByTimeout.map { "\($0) (\(row.timeoutDuringFault.map(String.init) ?? "-"))" } ?? "-",
                Self.pair(row.acceptedPerSecond, row.baselineAcceptedPerSecond), confirmed,
                row.hang ? "HANG" : row.recoverySeconds.map { "\(TextReport.format($0)) s" } ?? "-",
                row.duplicatesAbsorbed.map(String.init) ?? "-",
                "\(row.restartRetries)" + (row.restartCrashes.isEmpty ? "" : " (\(row.restartCrashes.count) crashed)"),
            ])
        }
        let widths = header.indices.map { column in ([header] + lines).map { $0[column].count }.max() ?? 0 }
        func format(_ cells: [String]) -> String {
            cells.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return column <= 2 ? cell + padding : padding + cell
            }.joined(separator: "  ")
        }
        var out = [title, format(header), format(widths.map { String(repeating: "-", count: $0) })]
        out += lines.map(format)

        // What could not be checked, once per reason with the faults it applies to.
        var reasons: [(String, [String])] = []
        for row in rows {
            for reason in row.notChecked {
                if let index = reasons.firstIndex(where: { $0.0 == reason }) { reasons[index].1.append(row.fault) } else { reasons.append((reason, [row.fault])) }
            }
        }
        for (reason, faults) in reasons {
            out.append("not checked: \(reason) (" + (faults.count == rows.count ? "every fault" : faults.joined(separator: ", ")) + ")")
        }
        let allowed = rows.filter(\.notCheckedAllowed).map(\.fault)
        if !allowed.isEmpty {
            out.append("--allow-not-checked: " + (allowed.count == rows.count ? "every fault" : allowed.joined(separator: ", ")))
        }
        for row in rows {
            for evidence in row.felt { out.append("\(row.fault) felt: \(evidence)") }
        }
        for row in rows where !row.failures.isEmpty {
            out.append("\(row.fault): " + row.failures.joined(separator: "; "))
        }
        return out.joined(separator: "\n")
    }

    private static func pair(_ during: Double?, _ before: Double?) -> String {
        guard let during else { return "-" }
        return "\(oneDecimal(during))|\(before.map(oneDecimal) ?? "-")"
    }

    private static func oneDecimal(_ value: Double) -> String {
        String(format: "%.1f", value)
    }
}
