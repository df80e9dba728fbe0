import Logging

/// Runs the audit on the live system. Right after a drain a service may still be applying
/// the last events (Inventory marking a reservation SOLD after OrderConfirmed, say), so a
/// failing audit is re-read for up to `settle` before it counts.
struct AuditRunner: Sendable {
    let collector: SnapshotCollector
    let settle: Duration
    let clock: any LoadClock
    let logger: Logger
    static let retryInterval: Duration = .seconds(2)

    func run(acceptedOrderIds: Set<String>?) async throws -> AuditResult {
        let deadline = clock.now() + settle
        var reads = 0
        var result: AuditResult
        while true {
            result = Auditor.audit(try await collector.collect(acceptedOrderIds: acceptedOrderIds))
            reads += 1
            if result.passed || clock.now() + Self.retryInterval > deadline { break }
            logger.notice("audit found \(result.violationCount) violations; reading again in \(Self.retryInterval) in case the services are still settling")
            try await clock.sleep(until: clock.now() + Self.retryInterval)
        }
        if reads > 1 { result.notes.append("state read \(reads) times while waiting up to \(settle) for the services to settle") }
        return result
    }
}
