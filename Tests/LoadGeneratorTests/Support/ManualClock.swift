import Foundation
@testable import LoadGenerator

/// A clock that moves only when the test says so: sleepers wake when `advance` passes their deadline.
final class ManualClock: LoadClock, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Duration = .zero
    private var sleepers: [(deadline: Duration, continuation: CheckedContinuation<Void, Never>)] = []

    func now() -> Duration { lock.withLock { current } }

    func sleep(until deadline: Duration) async throws {
        await withCheckedContinuation { continuation in
            let due = lock.withLock { () -> Bool in
                if deadline <= current { return true }
                sleepers.append((deadline, continuation))
                return false
            }
            if due { continuation.resume() }
        }
    }

    func advance(to time: Duration) {
        let due = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            current = time
            let (wake, keep) = (sleepers.filter { $0.deadline <= time }, sleepers.filter { $0.deadline > time })
            sleepers = keep
            return wake.map(\.continuation)
        }
        due.forEach { $0.resume() }
    }
}
