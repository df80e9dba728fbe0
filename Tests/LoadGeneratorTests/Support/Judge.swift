@testable import LoadGenerator

/// The verdict `RunJudgement` gives a run that accepted what it sent, with the parts a test sets.
func judge(audit: AuditResult? = nil, auditError: String? = nil, unfinished: Int = 0, liveness: LivenessReport? = nil,
           counts: RunCounts = RunCounts(sent: 10, accepted: 10), serverErrors: ServerErrorReport = ServerErrorReport(),
           allowNotChecked: Bool = false) -> RunJudgement.Result {
    RunJudgement.judge(.init(counts: counts, serverErrors: serverErrors, audit: audit, auditError: auditError,
                             liveness: liveness, unfinished: unfinished, drainTimeout: .seconds(60),
                             allowNotChecked: allowNotChecked))
}
