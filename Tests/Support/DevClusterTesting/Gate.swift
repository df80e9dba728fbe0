import Foundation

/// A one-shot signal between a transaction body (blocking is fine on the backend's thread) and
/// async test code (which must not block the cooperative pool).
public final class Gate: @unchecked Sendable {
    private let semaphore = DispatchSemaphore(value: 0)

    public init() {}

    public func open() { semaphore.signal() }

    public func block(timeout: TimeInterval = 30) throws {
        if semaphore.wait(timeout: .now() + timeout) == .timedOut { throw GateTimeout() }
    }

    public func wait(timeout: TimeInterval = 30) async throws {
        let semaphore = self.semaphore
        let ok = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            DispatchQueue.global().async {
                continuation.resume(returning: semaphore.wait(timeout: .now() + timeout) == .success)
            }
        }
        if !ok { throw GateTimeout() }
    }
}


public struct GateTimeout: Error, CustomStringConvertible {
    public var description: String { "timed out waiting for a gate" }
}
