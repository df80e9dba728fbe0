import Foundation

/// A token bucket per principal: `rate` requests a second on average, bursts up to `burst`.
/// Buckets of principals that went quiet (full again) are dropped once there are many, so a
/// stranger cycling through subjects cannot grow it without bound (each needs a valid token).
public final class RateLimiter: @unchecked Sendable {
    let rate: Double
    let burst: Double
    private let lock = NSLock()
    private var buckets: [String: (tokens: Double, at: ContinuousClock.Instant)] = [:]
    private let sweepAbove = 10_000

    public init(perSecond rate: Double, burst: Int) {
        precondition(rate > 0 && burst >= 1)
        self.rate = rate
        self.burst = Double(burst)
    }

    /// nil when the request may go ahead (a token was taken), else how long until one is free.
    public func take(_ key: String, now: ContinuousClock.Instant = .now) -> Duration? {
        lock.withLock {
            var bucket = buckets[key] ?? (burst, now)
            let elapsed = now - bucket.at
            bucket.tokens = min(burst, bucket.tokens + rate * (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
            bucket.at = now
            defer {
                buckets[key] = bucket
                if buckets.count > sweepAbove { sweep(now) }
            }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return .milliseconds(Int64(((1 - bucket.tokens) / rate * 1000).rounded(.up)))
        }
    }

    private func sweep(_ now: ContinuousClock.Instant) {
        let fullAfter = Duration.milliseconds(Int64(burst / rate * 1000) + 1)
        buckets = buckets.filter { now - $0.value.at < fullAfter }
    }
}
