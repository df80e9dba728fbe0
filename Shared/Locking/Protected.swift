import Foundation

/// A value behind a lock, for state that threads outside Swift concurrency share (librdkafka's
/// callbacks, a database driver's threads, a test's hooks). Foundation's NSLock keeps this
/// portable to the package's macOS 14 floor (Synchronization.Mutex needs macOS 15).
public final class Protected<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    public init(_ value: Value) { stored = value }

    /// A copy of the value as it is now.
    public var value: Value { lock.withLock { stored } }

    /// Reads or changes the value while holding the lock; `body` must not block.
    public func update<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&stored)
    }
}
