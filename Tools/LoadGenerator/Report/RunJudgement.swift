/// The verdict of a run and the reasons for it, from everything the run measured. Pure, so
/// tests hand it doctored counts, audits and liveness reports.
///
/// Every check either passes or fails the run: a check that could not run ("not checked")
/// fails it too, unless the run was started with `--allow-not-checked` (printed in the report).
enum RunJudgement {
    struct Input: Sendable {
        var counts: RunCounts
        var serverErrors: ServerErrorReport
        /// nil: the audit was not asked for, or could not run (`auditError`).
        var audit: AuditResult?
        var auditError: String?
        /// nil: no fault windows, or the check could not run (`livenessError`).
        var liveness: LivenessReport?
        var livenessError: String?
        /// Accepted orders not terminal and notified after the drain.
        var unfinished: Int
        var drainTimeout: Duration
        var allowNotChecked: Bool
    }

    struct Result: Sendable, Equatable {
        var verdict: Verdict
        var failures: [String]
        /// The checks that could not run, and why (a failure each, unless allowed).
        var notChecked: [String]
    }

    static func judge(_ input: Input) -> Result {
        var failures: [String] = []
        var violation = false
        var hang = false
        var couldNotJudge = false
        let counts = input.counts

        if let audit = input.audit, !audit.passed {
            failures.append("audit found \(audit.violationCount) violations of \(audit.failureSummary)")
            if audit.onlyStuck { hang = true } else { violation = true }
        }
        if let error = input.auditError {
            failures.append("the audit could not run: \(error)")
            couldNotJudge = true
        }

        // What the client saw that no audit can: a retried POST that made a second order is
        // consistent with itself, and so is a 500 that applied nothing.
        if counts.idempotencyMismatches > 0 {
            failures.append("\(counts.idempotencyMismatches) idempotent retries were not answered 202 with the first answer's orderId")
            violation = true
        }
        if counts.duplicateOrderIds > 0 {
            failures.append("\(counts.duplicateOrderIds) different requests were answered with an orderId already given")
            violation = true
        }
        if input.serverErrors.unexplainedCount > 0 {
            let statuses = input.serverErrors.unexplained.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
            failures.append("\(input.serverErrors.unexplainedCount) POST /orders answered 5xx with no fault to explain it (\(statuses))")
            violation = true
        }

        if let liveness = input.liveness {
            for window in liveness.windows where window.recovery.hang {
                failures.append("HANG after \(window.fault): \(window.recovery.reason ?? "no recovery")")
                hang = true
            }
            for (fault, count) in liveness.skewCancellations {
                failures.append("\(fault): \(count) orders cancelled by the saga deadline while a clock was off (a clock must not decide)")
                violation = true
            }
            for (fault, reasons) in liveness.notFelt {
                failures.append("\(fault): the fault was not shown to be felt: " + reasons.joined(separator: "; "))
                couldNotJudge = true
            }
            for (fault, crashes) in liveness.crashes {
                failures.append("\(fault): the service exited by itself while restarting (\(crashes.count) times): " + crashes.joined(separator: "; "))
                couldNotJudge = true
            }
        }
        if let error = input.livenessError {
            failures.append("the liveness check could not run: \(error)")
            couldNotJudge = true
        }

        let notChecked = notCheckedChecks(input)
        if !notChecked.isEmpty, !input.allowNotChecked {
            failures.append("not checked (--allow-not-checked accepts it): " + notChecked.joined(separator: "; "))
            couldNotJudge = true
        }

        if input.unfinished > 0 {
            failures.append("\(input.unfinished) accepted orders were not terminal and notified after the \(input.drainTimeout) drain")
            hang = true
        }
        if counts.sent > 0, counts.accepted == 0 {
            failures.append("no order was accepted (see the errors above)")
            couldNotJudge = true
        }

        let verdict: Verdict = violation ? .violation : hang ? .hang : couldNotJudge ? .error : .pass
        return Result(verdict: verdict, failures: failures, notChecked: notChecked)
    }

    /// Anomaly classes, or parts of them, and consumer-lag measurements that could not run.
    static func notCheckedChecks(_ input: Input) -> [String] {
        var out: [String] = []
        for invariant in input.audit?.invariants ?? [] where invariant.unchecked > 0 {
            out.append("invariant \(invariant.number): \(invariant.unchecked) \(invariant.checkedWhat) not checked: \(invariant.uncheckedWhy ?? "no reason given")")
        }
        for anomaly in input.audit?.anomalies ?? [] {
            if let why = anomaly.notChecked { out.append("\(anomaly.name): \(why)") }
            out += anomaly.uncheckedParts.map { "\(anomaly.name): \($0)" }
        }
        for window in input.liveness?.windows ?? [] {
            if let why = window.recovery.lagNotChecked { out.append("consumer lag after \(window.fault): \(why)") }
        }
        return out
    }
}
