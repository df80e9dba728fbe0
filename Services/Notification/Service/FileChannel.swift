import Foundation
import NotificationCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Appends one JSON line per notification to a file (tests and operators read it back), readable
/// by this service's user only: it holds customers' messages.
/// The file is opened once with O_APPEND and each line goes out in one write(2), so lines
/// never interleave even with another process appending. No fsync: a line lost in a machine
/// crash is re-delivered, because the row is marked SENT only after the write returned. The
/// consumer appends in its own transaction (`InTransactionChannel`).
final class FileChannel: InTransactionChannel, @unchecked Sendable {
    let kind = ChannelKind.file
    let concurrency = 1
    let maximumDeliveryTime = Duration.milliseconds(100)
    let path: String
    private let lock = NSLock()
    private let descriptor: Int32

    init(path: String) throws {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw FileChannelError("cannot open the notification file \(path): \(String(cString: strerror(errno)))")
        }
        // A file made by an earlier version may be world-readable.
        guard fchmod(descriptor, 0o600) == 0 else {
            close(descriptor)
            throw FileChannelError("cannot make the notification file \(path) private: \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(descriptor) }

    /// Rows recorded PENDING (by a build that delivered every channel through the worker) still
    /// go through the worker, and end here.
    func deliver(_ record: NotificationRecord) async throws {
        try deliverNow(record)
    }

    func deliverNow(_ record: NotificationRecord) throws {
        var line = try DeliveredNotification(record, channel: kind).json()
        line.append(0x0A)
        try lock.withLock {
            try line.withUnsafeBytes { bytes in
                var offset = 0
                // A regular file takes the whole line at once; the loop only covers a short write.
                while offset < bytes.count {
                    let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw FileChannelError("cannot append to \(path): \(String(cString: strerror(errno)))")
                    }
                    offset += written
                }
            }
        }
    }
}

struct FileChannelError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
