import Logging
import Messaging
import Persistence

/// Start-up writes (migrations, seeding) that fail transiently are retried for a while instead
/// of ending the process: an instance restarted after a SIGKILL meets the row locks its killed
/// session still holds until the server ends that session, and a database may be restarting.
enum StartupRetry {
    static let bound: Duration = .seconds(60)

    static func run<T>(_ what: String, logger: Logger, policy: RetryPolicy = RetryPolicy(),
                       _ body: () async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + bound
        var attempt = 0
        while true {
            do {
                return try await body()
            } catch SQLError.transient(let why) where ContinuousClock.now < deadline {
                attempt += 1
                logger.warning("\(what) failed transiently (attempt \(attempt)), retrying: \(why)")
                try await Task.sleep(for: policy.delay(attempt: attempt))
            }
        }
    }
}
