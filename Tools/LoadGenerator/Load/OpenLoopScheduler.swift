/// One order the scheduler releases: its number and when it was meant to be sent.
struct Arrival: Sendable, Hashable {
    let index: Int
    /// Clock time the request should have left at; latencies count from here.
    let intended: Duration
}

/// Open-model arrivals: order `i` is due at `start + i / rate` whatever happened to earlier
/// ones. Each is handed to `fire` in its own task, so a slow answer never delays the next
/// send (a closed loop would, and would hide that wait from the latencies: coordinated
/// omission). When the generator itself falls behind it sends the late ones at once; their
/// `intended` time stays on the schedule, so the lateness is in the measured latency.
struct OpenLoopScheduler: Sendable {
    let rate: Double
    let count: Int

    /// Orders in `duration` at `rate`: those due strictly before the end.
    static func count(rate: Double, duration: Duration) -> Int {
        Int((duration.seconds * rate).rounded(.up))
    }

    func intendedOffset(of index: Int) -> Duration {
        // From the index each time, not by adding up intervals: no drift over long runs.
        .nanoseconds(Int64((Double(index) * 1e9 / rate).rounded()))
    }

    /// Releases every arrival and returns once all `fire` calls have returned. Stops
    /// releasing new ones (but still waits for those in flight) when `shouldStop` says so.
    func run(clock: some LoadClock, start: Duration,
             shouldStop: @escaping @Sendable () -> Bool = { false },
             fire: @escaping @Sendable (Arrival) async -> Void) async {
        await withDiscardingTaskGroup { group in
            for index in 0..<count {
                let intended = start + intendedOffset(of: index)
                do {
                    try await clock.sleep(until: intended)
                } catch {
                    return // cancelled
                }
                if shouldStop() { return }
                group.addTask { await fire(Arrival(index: index, intended: intended)) }
            }
        }
    }
}
