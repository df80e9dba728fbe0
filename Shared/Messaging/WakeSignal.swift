import Foundation

/// A coalescing wake-up: any number of `signal()` calls while nobody waits make the next
/// `wait` return at once, and only once. Wakes the relay right after a commit, and work a
/// commit left due (Notification's deliveries) instead of its next polling round.
public final class WakeSignal: @unchecked Sendable {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Void, Never>
        var timer: Task<Void, Never>?
    }

    private let lock = NSLock()
    private var pending = false
    private var waiter: Waiter?
    private var nextID: UInt64 = 0

    public init() {}

    public func signal() {
        lock.lock()
        guard let waiter else {
            pending = true
            lock.unlock()
            return
        }
        self.waiter = nil
        lock.unlock()
        waiter.timer?.cancel()
        waiter.continuation.resume()
    }

    /// Returns when signalled (or signalled since the last wait), or after `timeout`. One waiter at a time.
    public func wait(timeout: Duration) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            lock.lock()
            if pending {
                pending = false
                lock.unlock()
                continuation.resume()
                return
            }
            nextID &+= 1
            let id = nextID
            waiter = Waiter(id: id, continuation: continuation)
            lock.unlock()
            let timer = Task { [weak self] in
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled { self?.expire(id) }
            }
            lock.withLock {
                if waiter?.id == id { waiter?.timer = timer } else { timer.cancel() }
            }
        }
    }

    private func expire(_ id: UInt64) {
        lock.lock()
        guard let waiter, waiter.id == id else {
            lock.unlock()
            return
        }
        self.waiter = nil
        lock.unlock()
        waiter.continuation.resume()
    }
}
