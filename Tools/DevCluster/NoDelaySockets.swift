import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Turns Nagle's algorithm off on every TCP socket of this process.
///
/// librdkafka 2.0.2's mock brokers leave Nagle on. A response written in two parts then waits
/// for the client's delayed ACK whenever traffic is sparse, on every produce round trip (the
/// figures, before and after: deploy/bench/results/2026-12-05-numbers.md, "produce round trip").
/// Linux copies TCP_NODELAY from a
/// listening socket to the connections it accepts, so fixing the listeners covers later
/// clients; the periodic sweep covers listeners re-created by "up" and anything accepted earlier.
enum NoDelaySockets {
    @discardableResult
    static func apply() -> Int {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return 0 }
        var changed = 0
        for entry in entries {
            guard let fd = Int32(entry) else { continue }
            var info = stat()
            guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFSOCK else { continue }
            var domain: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) == 0,
                  domain == AF_INET || domain == AF_INET6 else { continue }
            var type: Int32 = 0
            length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0, type == Int32(SOCK_STREAM.rawValue) else { continue }
            var current: Int32 = 0
            length = socklen_t(MemoryLayout<Int32>.size)
            if getsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &current, &length) == 0, current != 0 { continue }
            var on: Int32 = 1
            if setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size)) == 0 { changed += 1 }
        }
        return changed
    }

    /// Applies now and then every `interval`, for the life of the process.
    static func keepApplying(every interval: Duration = .milliseconds(250)) {
        apply()
        Task.detached {
            while true {
                try? await Task.sleep(for: interval)
                apply()
            }
        }
    }
}
