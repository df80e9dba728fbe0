/// Time as the load generator sees it: an offset from a fixed origin. Injected so that tests
/// drive the scheduler and the latency measurement with a fake clock instead of waiting.
protocol LoadClock: Sendable {
    func now() -> Duration
    /// Returns at once if `deadline` has passed.
    func sleep(until deadline: Duration) async throws
}

/// The monotonic system clock, offsets from when this value was made.
struct SystemLoadClock: LoadClock {
    private let origin = ContinuousClock.now

    func now() -> Duration { ContinuousClock.now - origin }

    func sleep(until deadline: Duration) async throws {
        try await Task.sleep(until: origin + deadline, clock: .continuous)
    }
}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }

    var milliseconds: Double { seconds * 1000 }
}
