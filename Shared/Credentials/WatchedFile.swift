import Foundation

/// A value parsed from a file, parsed again when the file changes (its modification time, size
/// or inode), looked at no more than once per `interval`. A change that does not parse keeps
/// the last good value and is reported by `lastError`, so a half-written key file never locks
/// everyone out; a file that is missing at start is an error at start.
public final class WatchedFile<Value: Sendable>: @unchecked Sendable {
    public let path: String
    private let interval: Duration
    private let parse: @Sendable (Data) throws -> Value
    private let lock = NSLock()
    private var current: Value
    private var stamp: Stamp
    private var checkedAt: ContinuousClock.Instant
    private var error: String?

    private struct Stamp: Equatable {
        var modified: Date?
        var size: Int?
        var inode: Int?
    }

    public init(path: String, interval: Duration = .seconds(1), parse: @escaping @Sendable (Data) throws -> Value) throws {
        self.path = path
        self.interval = interval
        self.parse = parse
        stamp = Self.stamp(path)
        do {
            current = try parse(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch let error as CocoaError where error.code == .fileReadNoSuchFile {
            throw KeyFileError.unreadable(path: path, reason: "no such file")
        }
        checkedAt = .now
    }

    /// The value, re-read first when the file changed since the last look.
    public var value: Value {
        lock.lock()
        defer { lock.unlock() }
        let now = ContinuousClock.now
        guard now - checkedAt >= interval else { return current }
        checkedAt = now
        let seen = Self.stamp(path)
        guard seen != stamp else { return current }
        do {
            current = try parse(try Data(contentsOf: URL(fileURLWithPath: path)))
            stamp = seen
            error = nil
        } catch {
            self.error = "\(path) changed but cannot be used, keeping the previous one: \(error)"
        }
        return current
    }

    /// Why the file's latest version was not taken, or nil.
    public var lastError: String? { lock.withLock { error } }

    private static func stamp(_ path: String) -> Stamp {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        return Stamp(modified: attributes?[.modificationDate] as? Date, size: (attributes?[.size] as? NSNumber)?.intValue,
                     inode: (attributes?[.systemFileNumber] as? NSNumber)?.intValue)
    }
}

/// A key or keyring file that cannot be used; the text says which file and why.
public enum KeyFileError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case invalid(String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): "cannot read \(path): \(reason)"
        case let .invalid(reason): reason
        }
    }
}
