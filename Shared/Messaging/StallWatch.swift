import Foundation
import Locking

/// Tells a run of transient failures that is taking too long from one that is still normal.
///
/// A transient error (database busy, disk full, broker down) is retried with backoff and never
/// skipped; one that keeps failing for longer than `bound` is an outage someone must look at: it
/// is logged at error once, counted, and readiness turns red with the reason until an attempt
/// succeeds. Durations come from the monotonic clock, so a wall-clock jump changes nothing.
final class StallWatch: Sendable {
    let bound: Duration
    private let state = Protected(State())

    private struct State {
        var failingSince: ContinuousClock.Instant?
        var reason = ""
        var attempts = 0
        var reported = false
    }

    /// A stall past the bound: since when, how many attempts, the last error.
    struct Stall: Sendable, Equatable {
        let failingFor: Duration
        let attempts: Int
        let reason: String
    }

    init(bound: Duration) {
        self.bound = bound
    }

    /// Records a failed attempt; returns the stall the first time the failures outlast the bound
    /// (the caller reports it once), nil otherwise.
    func failed(_ reason: String, now: ContinuousClock.Instant = .now) -> Stall? {
        state.update { state in
            let since = state.failingSince ?? now
            state.failingSince = since
            state.reason = reason
            state.attempts += 1
            guard !state.reported, now - since >= bound else { return nil }
            state.reported = true
            return Stall(failingFor: now - since, attempts: state.attempts, reason: reason)
        }
    }

    /// Records a success; returns how long the failures had lasted if they had been reported.
    func succeeded(now: ContinuousClock.Instant = .now) -> Duration? {
        state.update { state in
            defer { state = State() }
            guard state.reported, let since = state.failingSince else { return nil }
            return now - since
        }
    }

    /// The stall now, if the failures outlast the bound.
    func current(now: ContinuousClock.Instant = .now) -> Stall? {
        state.update { state in
            guard let since = state.failingSince, now - since >= bound else { return nil }
            return Stall(failingFor: now - since, attempts: state.attempts, reason: state.reason)
        }
    }
}
